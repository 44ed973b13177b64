"""Helpers for the query-service tests: a real `logscope ingest --follow` process and polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import cli_env, run_cli

from logscope.store.client import service_state

CLI = (sys.executable, "-m", "logscope")


def wait_until(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.1) -> object:
    """Poll until `predicate()` is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


def json_line(ts: str, message: str, level: str = "info") -> str:
    return f'{{"ts":"{ts}","level":"{level}","msg":"{message}"}}\n'


class FollowingIngest:
    """`logscope ingest --follow LOG ARGS` in its own process, once `ready()` says it is up: lines
    appended to its log, stopped with SIGINT."""

    def __init__(self, log: Path, args: list[str], ready: Callable[[], object]) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [*CLI, "ingest", "--follow", str(log), *args],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_until(lambda: self.process.poll() is not None or ready())
        assert self.process.poll() is None, self.process.communicate()

    def append(self, text: str) -> None:
        with self.log.open("a") as handle:
            handle.write(text)

    def stop(self) -> str:
        """SIGINT, as Ctrl-C would: the run commits what it read and exits; returns its stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=60)
        return stderr.decode()


class LiveIngest(FollowingIngest):
    """`logscope ingest --follow FILE` running in its own process, holding the database."""

    def __init__(self, db: Path, log: Path, *extra: str) -> None:
        self.db = db
        log.touch()
        self.socket = Path(str(db) + ".sock")
        args = ["--db", str(db), "-q", "--stats-interval", "0.3", *extra]
        super().__init__(log, args, lambda: service_state(str(self.socket)) == "live")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.communicate(timeout=30)

    def __enter__(self) -> LiveIngest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)


def count(db: Path, where: str = "true") -> int:
    result = run_cli("query", "--db", str(db), "--csv", f"SELECT count(*) FROM logs WHERE {where}")
    assert result.returncode == 0, result.stderr
    return int(result.stdout.splitlines()[1])


def follow_until_stored(db: Path, path: Path, lines: int, settle: float) -> tuple[int, str]:
    """`logscope ingest --follow PATH` until `lines` records are stored (asked through the run's
    query service: the database itself is locked by the run), `settle` seconds more, then SIGTERM;
    its exit status and stderr."""
    process = subprocess.Popen(
        [*CLI, "ingest", "--follow", "--db", str(db), str(path)],
        env=cli_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    socket = str(db) + ".sock"
    try:
        wait_until(
            lambda: process.poll() is not None or (service_state(socket) == "live" and count(db) >= lines)
        )
        time.sleep(settle)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr
