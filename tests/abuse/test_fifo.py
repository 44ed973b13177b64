"""Issue 22, case 7: a FIFO (or character device) named as a source is read as a stream: nothing a
writer sends is lost, a second writer is welcome, and SIGINT/SIGTERM end the wait at once.
The real CLI in a subprocess, real FIFOs, rows read from the DuckDB file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import cli_env, query_db

STOP_SECONDS = 6.0  # how long a stopped ingest may take to exit (it never did before)


def start_ingest(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "logscope", "ingest", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )


def write_lines(path: Path, start: int, count: int) -> None:
    """Open the FIFO for writing (waits for the reader), write the lines, close it."""
    with open(path, "w") as fifo:
        for number in range(start, start + count):
            fifo.write(f"fifo line {number}\n")


def wait_until_open(process: subprocess.Popen[str], path: Path, timeout: float = 30) -> None:
    """Wait until the process holds `path` open (it is then waiting for a writer, or reading)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fd in os.listdir(f"/proc/{process.pid}/fd"):
            try:
                if os.readlink(f"/proc/{process.pid}/fd/{fd}") == str(path):
                    return
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError(f"{path} was never opened")


def stored(db: Path) -> tuple[int, int]:
    return query_db(db, "SELECT count(*), count(DISTINCT message) FROM logs")[0]


def stop_and_time(process: subprocess.Popen[str], signum: int) -> tuple[float, str]:
    process.send_signal(signum)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    return time.monotonic() - started, stderr


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "f"
    os.mkfifo(path)
    return path


@pytest.mark.slow
def test_a_writer_loses_nothing(fifo: Path, db: Path) -> None:
    process = start_ingest("--db", str(db), str(fifo))
    wait_until_open(process, fifo)  # the reader is waiting for a writer
    write_lines(fifo, 0, 100_000)  # no EPIPE: the FIFO is opened once and read to its end
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "ingested 100,000 lines" in stderr
    assert stored(db) == (100_000, 100_000)


@pytest.mark.slow
def test_two_writers_at_once_lose_nothing(fifo: Path, db: Path) -> None:
    process = start_ingest("--db", str(db), str(fifo))
    writers = [threading.Thread(target=write_lines, args=(fifo, n * 50_000, 50_000)) for n in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "not seekable" not in stderr and "Traceback" not in stderr
    assert stored(db) == (100_000, 100_000)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_waiting_for_a_writer_stops_on_a_signal(fifo: Path, db: Path, signum: int) -> None:
    process = start_ingest("--db", str(db), str(fifo))
    wait_until_open(process, fifo)
    time.sleep(0.5)
    seconds, stderr = stop_and_time(process, signum)
    assert seconds < STOP_SECONDS, stderr
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_follow_keeps_reading_as_writers_come_and_go(fifo: Path, db: Path) -> None:
    process = start_ingest("--follow", "--db", str(db), str(fifo))
    for round_number in range(3):
        write_lines(fifo, round_number * 1000, 1000)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the writer's data is committed while following
        time.sleep(0.3)
        if process.poll() is None and _count_via_service(db) == 3000:
            break
    seconds, stderr = stop_and_time(process, signal.SIGTERM)
    assert seconds < STOP_SECONDS, stderr
    assert process.returncode == 0, stderr
    assert stored(db) == (3000, 3000)


@pytest.mark.slow
def test_a_character_device_is_a_stream(db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "logscope", "ingest", "--db", str(db), "/dev/null"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "ingested 0 lines" in result.stderr


@pytest.mark.slow
def test_an_endless_character_device_stops_on_sigint_with_bounded_memory(db: Path) -> None:
    process = start_ingest("--db", str(db), "/dev/zero")
    wait_until_open(process, Path("/dev/zero"))
    time.sleep(1)
    rss = _rss_bytes(process.pid)
    seconds, stderr = stop_and_time(process, signal.SIGINT)
    assert seconds < STOP_SECONDS, stderr
    assert process.returncode == 0, stderr
    assert rss < 400 * 1024 * 1024  # one capped line (1 MiB) held, not the stream
    ((rows, _),) = [stored(db)]
    assert rows <= 1


@pytest.mark.slow
def test_a_fifo_inside_a_directory_is_not_waited_on(tmp_path: Path, db: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    os.mkfifo(logs / "pipe")
    (logs / "app.log").write_text("one\ntwo\n")
    result = subprocess.run(
        [sys.executable, "-m", "logscope", "ingest", "--db", str(db), str(logs)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert stored(db) == (2, 2)


def _count_via_service(db: Path) -> int | None:
    from logscope.store.client import connect_if_served

    client = connect_if_served(str(db))
    if client is None:
        return None
    with client:
        return next(iter(client.query("SELECT count(*) FROM logs").rows()))[0]


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0
