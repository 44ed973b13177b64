"""Run the CLI inside the test process, as a subprocess would see it, and leave nothing behind.

`logscope.cli.main` runs with file descriptors 0, 1 and 2 swapped for a pipe (or /dev/null) and
two temporary files, so what C code (DuckDB, Arrow) writes lands in the captured output as it
would in a subprocess. The environment, time zone, working directory, `sys.argv` and the SIGINT and
SIGTERM handlers are set for the run and restored after it. A run that leaves a thread running or
a database open in this process fails the test: a leak a subprocess would hide at its exit.

Starting `python -m logscope` costs 1-3 s of imports on a loaded 2-core machine; most CLI tests
only need its output and exit status, so this is what `conftest.run_cli` uses. Runs that need a
process of their own (signals, a terminal, `--follow` that another process stops, or a crash)
use `run_cli_process`.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

THREAD_GRACE = 10.0  # seconds a thread the run started may take to finish after it returned
# Daemon threads that serve the whole process and idle between uses (logscope/alerting/sandbox.py).
PROCESS_THREADS = frozenset({"rule-sql-watchdog"})


def run_in_process(
    args: Sequence[str],
    input: bytes | None,
    env: dict[str, str],
    timeout: float,
    cwd: Path | None,
) -> subprocess.CompletedProcess[str]:
    """`logscope ARGS` through `logscope.cli.main`, returning what `subprocess.run` would."""
    from logscope.cli import main

    threads_before = set(threading.enumerate())
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with (
            _environment(env),
            _working_directory(cwd),
            _argv(args),
            _signal_handlers(),
            _standard_streams(input, out, err),
            _deadline(timeout) as expired,
        ):
            code = _call(main, list(args))
        stdout, stderr = _read(out), _read(err)
    if expired:
        raise subprocess.TimeoutExpired(["logscope", *args], timeout, stdout, stderr)
    _check_nothing_left(args, env, threads_before)
    return subprocess.CompletedProcess(["logscope", *args], code, stdout, stderr)


def _call(main, argv: list[str]) -> int:
    """main's exit status; SystemExit and uncaught exceptions end as they end a process."""
    try:
        return main(argv)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        time.tzset()


@contextlib.contextmanager
def _working_directory(cwd: Path | None) -> Iterator[None]:
    saved = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


@contextlib.contextmanager
def _argv(args: Sequence[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = [str(Path(sys.executable).parent / "logscope"), *args]
    try:
        yield
    finally:
        sys.argv = saved


@contextlib.contextmanager
def _signal_handlers() -> Iterator[None]:
    """The commands set their own SIGINT/SIGTERM handlers (a stop request); pytest's come back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _standard_streams(input: bytes | None, out, err) -> Iterator[None]:
    """fds 0-2 and sys.stdin/stdout/stderr on the input pipe (or /dev/null) and the two files."""
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    for stream in saved_streams:
        with contextlib.suppress(Exception):
            stream.flush()
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    feeder = None
    if input is None:
        source = os.open(os.devnull, os.O_RDONLY)
    else:
        source, sink = os.pipe()
        feeder = threading.Thread(target=_feed, args=(sink, input), name="cli-stdin-feeder", daemon=True)
    os.dup2(source, 0)
    os.close(source)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    if feeder is not None:
        feeder.start()
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for fd, saved in zip((0, 1, 2), saved_fds, strict=True):
            os.dup2(saved, fd)  # also closes the pipe's read end: a feeder still writing stops
            os.close(saved)
        if feeder is not None:
            feeder.join()


def _feed(sink: int, data: bytes) -> None:
    """Write the input into the pipe and close it (end of input), as subprocess.run does."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(sink, view) :]
    except OSError:
        pass  # the command stopped reading: its pipe is gone
    finally:
        os.close(sink)


@contextlib.contextmanager
def _deadline(timeout: float) -> Iterator[list[bool]]:
    """After `timeout` s, interrupt the run as Ctrl-C would (the caller raises TimeoutExpired)."""
    expired: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        if not done.wait(timeout):
            expired.append(True)
            signal.raise_signal(signal.SIGINT)

    watcher = threading.Thread(target=watch, name="cli-deadline", daemon=True)
    watcher.start()
    try:
        yield expired
    finally:
        try:
            done.set()
            watcher.join()
        except KeyboardInterrupt:  # the deadline's own SIGINT, landing after the run returned
            if not expired:
                raise


def _read(file) -> str:
    file.seek(0)
    return file.read().decode("utf-8", "replace")


def _check_nothing_left(args: Sequence[str], env: dict[str, str], before: set[threading.Thread]) -> None:
    """Fail on what a process exit would have cleaned up: threads still running, databases open."""
    started = [thread for thread in set(threading.enumerate()) - before if thread.name not in PROCESS_THREADS]
    deadline = time.monotonic() + THREAD_GRACE
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = [thread.name for thread in started if thread.is_alive()]
    assert not left, f"logscope {' '.join(args)}: threads still running after it returned: {left}"
    gc.collect()
    for path in _databases(args, env):
        _assert_closed(path, args)


def _databases(args: Sequence[str], env: dict[str, str]) -> list[str]:
    """The database files the run names (--db PATH, --db=PATH, $LOGSCOPE_DB) that exist."""
    named = [env["LOGSCOPE_DB"]] if env.get("LOGSCOPE_DB") else []
    for index, word in enumerate(args):
        if word == "--db" and index + 1 < len(args):
            named.append(args[index + 1])
        elif word.startswith("--db="):
            named.append(word.removeprefix("--db="))
    return [path for path in named if path != ":memory:" and os.path.isfile(path)]


def _assert_closed(path: str, args: Sequence[str]) -> None:
    """A read-only connection is refused while this process still has the file open read-write."""
    try:
        duckdb.connect(path, read_only=True).close()
    except duckdb.ConnectionException as exc:
        raise AssertionError(f"logscope {' '.join(args)} left {path} open: {exc}") from exc
    except duckdb.Error:
        pass  # not a database (a test of bad input): nothing of ours holds it
