"""Multiline records: stack traces join their record; held records and checkpoints; quiet flush."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

from conftest import cli_env, query_db, run_cli

from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import QUIET_SECONDS, SourceParser
from logscope.record import LineBatch


def java_trace(lines: int) -> list[str]:
    """A log4j record followed by an exception of `lines` - 1 continuation lines."""
    head = [
        "2024-03-01 10:15:31,001 ERROR [main] com.example.App: Request failed",
        "java.lang.IllegalStateException: boom",
    ]
    frames = [f"\tat com.example.Layer{n}.call(Layer{n}.java:{n + 10})" for n in range(lines - 5)]
    tail = [
        "Caused by: java.io.IOException: disk full",
        "\tat com.example.Disk.write(Disk.java:7)",
        "\t... 20 more",
    ]
    trace = head + frames + tail
    assert len(trace) == lines
    return trace


def test_thirty_line_java_stack_trace_is_one_record(tmp_path: Path) -> None:
    trace = java_trace(30)
    log = tmp_path / "app.log"
    log.write_text(
        "2024-03-01 10:15:30,000 INFO [main] com.example.App: starting\n"
        + "\n".join(trace)
        + "\n2024-03-01 10:15:32,000 INFO [main] com.example.App: recovered\n"
    )
    result = run_cli("parse", str(log), "--tz", "UTC")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["format"] for r in records] == ["log4j", "log4j", "log4j"]
    failed = records[1]
    assert failed["level"] == "error"
    assert failed["ts"] == "2024-03-01T10:15:31.001Z"
    assert failed["raw"].split("\n") == trace
    assert failed["message"].split("\n")[0] == "Request failed"
    assert failed["message"].count("\n") == 29
    assert records[2]["message"] == "recovered"


def test_stack_trace_is_stored_as_one_row(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("\n".join(java_trace(30)) + "\n")  # the file ends inside the held record
    result = run_cli("ingest", "--db", str(db), str(log))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT format, level, len(string_split(raw, chr(10))) FROM logs")
    assert rows == [("log4j", "error", 30)]


def test_python_traceback_joins_its_record() -> None:
    parser = SourceParser(builtin_registry(UTC))
    lines = [
        "2026-11-26 02:10:00,123 - app.jobs - ERROR - job failed",
        "Traceback (most recent call last):",
        '  File "jobs.py", line 3, in run',
        "    1 / 0",
        "ZeroDivisionError: division by zero",
        "2026-11-26 02:10:01,000 - app.jobs - INFO - next job",
    ]
    records = parser.parse_batch(LineBatch("jobs", lines, final=True))
    assert [r.format for r in records] == ["python_logging", "python_logging"]
    assert records[0].message.endswith("ZeroDivisionError: division by zero")
    assert records[1].message == "next job"


def test_continuation_without_a_record_stays_raw() -> None:
    parser = SourceParser(builtin_registry(UTC))
    records = parser.parse_batch(LineBatch("x", ["\tat com.example.Orphan.run(Orphan.java:1)"], final=True))
    assert [r.format for r in records] == ["raw"]


def test_pending_start_points_at_the_held_record() -> None:
    parser = SourceParser(builtin_registry(UTC))
    first = "2024-03-01 10:15:30,000 INFO [main] com.example.App: starting"
    second = "2024-03-01 10:15:31,001 ERROR [main] com.example.App: Request failed"
    frame = "\tat com.example.App.main(App.java:10)"
    lines = [first, second, frame]
    offsets = [1000]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()) + 1)
    records = parser.parse_batch(LineBatch("f", lines, offsets=offsets))
    assert [r.message for r in records] == ["starting"]  # the failed one is held for more lines
    assert parser.pending_start == offsets[1]
    # The next batch continues it, then starts a new record: the held one is released.
    more = ["\tat com.example.Boot.run(Boot.java:3)", first]
    more_offsets = [offsets[-1]]
    for line in more:
        more_offsets.append(more_offsets[-1] + len(line.encode()) + 1)
    records = parser.parse_batch(LineBatch("f", more, offsets=more_offsets))
    assert len(records) == 1 and records[0].raw.count("\n") == 2
    assert parser.pending_start == more_offsets[1]  # now the new record is held
    assert [r.message for r in parser.release()] == ["starting"]
    assert parser.pending_start is None


def test_pending_start_unknown_without_offsets() -> None:
    parser = SourceParser(builtin_registry(UTC))
    parser.parse_batch(LineBatch("pipe", ["2024-03-01 10:15:31,001 ERROR [main] a.B: x"]))
    assert parser.pending_start is None
    assert len(parser.release()) == 1


def test_held_record_released_after_quiet_time_and_on_final_batch() -> None:
    parser = SourceParser(builtin_registry(UTC))
    parser.parse_batch(LineBatch("s", ["2024-03-01 10:15:31,001 ERROR [main] a.B: x"]))
    assert parser.flush_held(time.monotonic()) == []  # not quiet long enough yet
    released = parser.flush_held(time.monotonic() + QUIET_SECONDS + 0.01)
    assert [r.message for r in released] == ["x"]
    records = parser.parse_batch(LineBatch("s", ["2024-03-01 10:15:32,000 WARN [main] a.B: y"], final=True))
    assert [r.message for r in records] == ["y"]


def test_follow_mode_flushes_a_pending_record_after_quiet_time(tmp_path: Path) -> None:
    """stdin stays open: the held record must still come out once the input goes quiet."""
    process = subprocess.Popen(
        [sys.executable, "-m", "logscope", "parse", "-", "--tz", "UTC"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(("\n".join(java_trace(6)) + "\n").encode())
        process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        output = b""
        deadline = time.monotonic() + 20
        while b"\n" not in output and time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                output += os.read(process.stdout.fileno(), 65536)
        record = json.loads(output.splitlines()[0])
        assert record["format"] == "log4j"
        assert record["raw"].count("\n") == 5
        assert process.poll() is None  # it came out while stdin was still open
    finally:
        process.kill()
        process.wait(timeout=10)


def test_detect_counts_continuation_lines_for_their_format(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("\n".join(java_trace(30)) + "\n")
    result = run_cli("formats", "detect", str(log), "--output", "jsonl")
    assert result.returncode == 0, result.stderr
    best = json.loads(result.stdout.splitlines()[0])
    assert best == {"format": "log4j", "lines": 30, "share": "100.0%"}
