"""Helpers for the follow-mode tests: an in-process follow pipeline on a real DuckDB file.

The real TailSource, Pipeline and LogWriter run in this process so a test can wait for exactly
the records it expects (a subscriber sees each committed batch); the CLI-level tests
(test_rotation_*, test_crash_*) run `python -m logscope ingest --follow` in a subprocess.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from conftest import cli_env, query_db

from logscope.errors import LogscopeError
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.streaming import Pipeline
from logscope.record import Record
from logscope.sources.spec import FollowOptions, expand_sources
from logscope.store.checkpoints import load_checkpoints
from logscope.store.client import QueryClient, socket_path
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

FAST = {"poll_seconds": 0.2, "rotate_wait_seconds": 0.5, "partial_flush_seconds": 30.0}


class Tailing:
    """`ingest --follow` in-process: start, wait for lines, stop (flush and commit), restart."""

    def __init__(self, db: Path, *sources: str, **options) -> None:
        self.db = db
        self.sources = list(sources)
        self.options = {**FAST, **options}
        self.raw: list[str] = []
        self.errors: list[str] = []
        self._seen = threading.Condition()
        self.pipeline: Pipeline | None = None
        self.con = None

    def __enter__(self) -> Tailing:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.con = open_for_writing(str(self.db))
        options = FollowOptions(checkpoints=load_checkpoints(self.con), **self.options)
        expansion = expand_sources(self.sources, options)
        assert not expansion.errors, expansion.errors
        pipeline = Pipeline(LogWriter(self.con), builtin_registry(dt.UTC), on_error=self.errors.append)
        pipeline.subscribe(self._committed)
        pipeline.add_sources(expansion.sources)  # as the CLI does: files found at start in bulk
        pipeline.start()
        self.pipeline = pipeline

    def stop(self) -> None:
        if self.pipeline is None:
            return
        self.pipeline.request_stop()
        assert self.pipeline.wait(20), "the follow pipeline did not stop"
        assert self.pipeline.fatal is None, self.pipeline.fatal
        self.pipeline = None
        self.con.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _committed(self, records: list[Record]) -> None:
        with self._seen:
            self.raw.extend(record.raw for record in records)
            self._seen.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[str]:
        """Wait until `count` records in all were committed (this run); the raw lines so far.

        (30 s: it only bounds how long a failure takes. The follower polls every 0.2 s and sweeps
        every 0.05 s, so no slower path can meet the wait in its place; a loaded 2-core CI machine
        can take seconds to schedule the reader, as 7db57dc saw.)"""
        deadline = time.monotonic() + timeout
        with self._seen:
            while len(self.raw) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"waited for {count} records, have {len(self.raw)}: {self.raw[-5:]}"
                self._seen.wait(left)
        return list(self.raw)

    def settle(self, seconds: float = 0.6) -> list[str]:
        """Give the follower time to notice what it should (and must not) read."""
        time.sleep(seconds)
        return list(self.raw)


def append(path: Path, *lines: str) -> None:
    with open(path, "a") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def seq_lines(start: int, stop: int, tag: str = "seq") -> list[str]:
    return [f"{tag}={n:07d} payload={'x' * 30}" for n in range(start, stop)]


def stored_raw(db: Path) -> list[str]:
    return [row[0] for row in query_db(db, "SELECT raw FROM logs ORDER BY id")]


def stored_sequence_numbers(db: Path) -> Counter[int]:
    """How often each `seq=N` appears in the database."""
    rows = query_db(db, "SELECT regexp_extract(raw, 'seq=(\\d+)', 1) FROM logs")
    return Counter(int(value) for (value,) in rows if value)


def assert_exactly_once(counts: Counter[int], expected: range | set[int]) -> None:
    doubled = sorted(n for n, times in counts.items() if times > 1)
    missing = sorted(set(expected) - set(counts))
    extra = sorted(set(counts) - set(expected))
    assert not doubled, f"{len(doubled)} lines stored twice, first {doubled[:10]}"
    assert not missing, f"{len(missing)} lines missing, first {missing[:10]}"
    assert not extra, f"unexpected lines {extra[:10]}"


# --- the real CLI in a subprocess, and a writer process --------------------------------------

WRITER = r"""
import os, signal, sys, time
path, start, count, pause_every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
reopen = False
def on_hup(signum, frame):
    global reopen
    reopen = True
signal.signal(signal.SIGHUP, on_hup)
handle = open(path, "a", buffering=1)
with open(path + ".pid", "w") as pid:
    pid.write(str(os.getpid()))
for n in range(start, start + count):
    if reopen:
        reopen = False
        handle.close()
        handle = open(path, "a", buffering=1)
    handle.write(f"seq={n:07d} payload={'x' * 40}\n")
    if n % pause_every == 0:
        time.sleep(0.001)
handle.close()
# Interpreter shutdown restores SIGHUP's default action (death) unless it is ignored: a rotation's
# postrotate `kill -HUP` landing in that window would otherwise kill the finished writer.
signal.signal(signal.SIGHUP, signal.SIG_IGN)
"""


def start_writer(path: Path, start: int, count: int, pause_every: int = 200) -> subprocess.Popen:
    """A process appending `seq=N` lines as fast as it can (reopens the file on SIGHUP).

    It sleeps a millisecond every `pause_every` lines, so a run spans several rotations.
    """
    arguments = [str(path), str(start), str(count), str(pause_every)]
    return subprocess.Popen([sys.executable, "-c", WRITER, *arguments])


def start_follow_cli(db: Path, *sources: str, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "logscope", "ingest", "--follow", "-q", *sources, "--db", str(db), *extra],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop_cli(process: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    """SIGTERM, then the exit status and stderr."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr.decode("utf-8", "replace")


def wait_until_ready(db: Path, timeout: float = 20) -> None:
    """The CLI opened its database (DuckDB creates the file at connect)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(db):
        assert time.monotonic() < deadline, "the ingest process never opened its database"
        time.sleep(0.05)
    time.sleep(0.5)  # imports done, watches set


def live_query(db: Path, sql: str) -> list[tuple] | None:
    """Rows from the running ingest's query service (`<db>.sock`); None while it is not serving."""
    try:
        with QueryClient(socket_path(str(db)), timeout=2) as client:
            return list(client.query(sql).rows())
    except (LogscopeError, OSError):
        return None


def wait_until_serving(db: Path, process: subprocess.Popen, timeout: float = 30) -> None:
    """The ingest process answers queries and has committed at least one checkpoint."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "the ingest process exited"
        rows = live_query(db, "SELECT count(*) FROM checkpoints")
        if rows and rows[0][0] > 0:
            return
        assert time.monotonic() < deadline, "the ingest process never started following"
        time.sleep(0.05)


def wait_until_stored(db: Path, count: int | None, timeout: float = 30) -> int:
    """Wait until the running ingest stored `count` rows (None: until the count stops moving)."""
    deadline = time.monotonic() + timeout
    last, steady_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        rows = live_query(db, "SELECT count(*) FROM logs")
        stored = rows[0][0] if rows else -1
        if count is not None and stored >= count:
            return stored
        if stored != last:
            last, steady_since = stored, time.monotonic()
        elif count is None and stored >= 0 and time.monotonic() - steady_since > 1.5:
            return stored
        time.sleep(0.1)
    return last
