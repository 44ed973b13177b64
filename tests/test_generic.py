"""The `generic` fallback (issue 16): any line starting with a common time layout gets its time,
a level near the start (or one inferred from the message, marked), the rest as message; lines
without a leading time join the record before them. Also: logfmt after a bare leading time, and
levels inferred for BSD syslog text. Streaming and bulk import store the same rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REPO, query_db, run_cli
from test_bulk_identity import assert_identical

from logscope.parsing.generic import GenericParser
from logscope.parsing.time_values import us_to_datetime

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _when(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).isoformat()


LAYOUTS = [
    ("2026-12-06T10:00:20.123456Z INFO started", "2026-12-06T10:00:20.123456+00:00", "info", "started"),
    (
        "2026-12-06 10:00:20,123 WARN [main] low disk",
        "2026-12-06T10:00:20.123000+00:00",
        "warning",
        "[main] low disk",
    ),
    ("2026-12-06 10:00:20.5+03:00 [error] boom", "2026-12-06T07:00:20.500000+00:00", "error", "boom"),
    ("2026-12-06 10:00:20 CEST info: ok", "2026-12-06T08:00:20+00:00", "info", "ok"),
    (
        "2026/12/06 10:00:20 kid1| ERROR: no space",
        "2026-12-06T10:00:20+00:00",
        "error",
        "kid1| ERROR: no space",
    ),
    ("Nov  3 09:23:38 myhost app: hello", "2026-11-03T09:23:38+00:00", None, "myhost app: hello"),
    ("[20/Jul/2009:22:59:26 +0000] GET /x", "2009-07-20T22:59:26+00:00", None, "GET /x"),
    ("Sun Mar 13 22:49:12 2016 ERROR oops", "2016-03-13T22:49:12+00:00", "error", "oops"),
    (
        "[Sun Mar 13 22:49:12.123456 2016] [core:warn] [pid 7] x",
        "2016-03-13T22:49:12.123456+00:00",
        "warning",
        "[pid 7] x",
    ),
    ("Sun, 13 Mar 2016 22:49:12 GMT: hi", "2016-03-13T22:49:12+00:00", None, "hi"),
    ("06-Dec-2026 10:00:20.123 SEVERE [main] x", "2026-12-06T10:00:20.123000+00:00", "error", "[main] x"),
    ("Dec 6, 2026 10:00:20 PM org.Foo main", "2026-12-06T22:00:20+00:00", None, "org.Foo main"),
    ("12/06/2026 10:00:20 DEBUG x", "2026-12-06T10:00:20+00:00", "debug", "x"),
    (
        "1733475600.123 45 127.0.0.1 TCP_MISS/200",
        "2024-12-06T09:00:00.123000+00:00",
        None,
        "45 127.0.0.1 TCP_MISS/200",
    ),
    ("1733475600123 level=warn slow", "2024-12-06T09:00:00.123000+00:00", "warning", "slow"),
    ("1733475600123456 x", "2024-12-06T09:00:00.123456+00:00", None, "x"),
    (
        "@4000000068a1b2c3000003e8 svscan: started",
        "2025-08-17T10:45:13.000001+00:00",
        None,
        "svscan: started",
    ),
    (
        "10:15:30.123 [main] INFO c.e.App - up",
        "2026-12-06T10:15:30.123000+00:00",
        "info",
        "[main] INFO c.e.App - up",
    ),
    (
        "E0517 10:00:00.123456 1234 file.go:12] bad",
        "2026-05-17T10:00:00.123456+00:00",
        "error",
        "1234 file.go:12] bad",
    ),
    ("<3>2026-12-06 10:00:20 sd: x", "2026-12-06T10:00:20+00:00", "error", "sd: x"),
    ("INFO 2026-12-06 10:00:20 msg", "2026-12-06T10:00:20+00:00", "info", "msg"),
    ("12345 2026-12-06 10:00:20 <E> x", "2026-12-06T10:00:20+00:00", "error", "x"),
    # a level glued to the message by a colon (lnav's tests: logfile_generic.0, VMware VAMI)
    ("2012-07-02 10:22:40,672:DEBUG:foo bar baz", "2012-07-02T10:22:40.672000+00:00", "debug", "foo bar baz"),
    (
        "2015-03-12T23:16:52.071:INFO:com.root:Response :",
        "2015-03-12T23:16:52.071000+00:00",
        "info",
        "com.root:Response :",
    ),
]


@pytest.mark.parametrize(("line", "ts", "level", "message"), LAYOUTS, ids=[row[0][:24] for row in LAYOUTS])
def test_leading_time_layouts(line: str, ts: str, level: str | None, message: str) -> None:
    parsed = GenericParser(UTC, lambda: NOW).parse(line)
    assert parsed is not None, line
    assert us_to_datetime(parsed[0]).isoformat() == ts
    assert (parsed[1], parsed[2]) == (level, message)


def test_lines_without_a_leading_time_are_not_generic() -> None:
    parser = GenericParser(UTC)
    for line in ("Traceback (most recent call last):", "\tat a.b(C.java:1)", "plain words", "123 apples", ""):
        assert parser.parse(line) is None, line


def test_level_inferred_and_marked_when_the_line_has_none() -> None:
    parsed = GenericParser(UTC).parse("2026-12-06 10:00:20 connection to db failed after 3 tries")
    assert parsed is not None and parsed[1] == "error" and parsed[3] == {"level_inferred": True}


# Real output: a Python program logging with layouts no built-in format knows, one exception each.
PROGRAM = textwrap.dedent(
    """
    import logging, sys
    layout, datefmt, path = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(layout, datefmt))
    log = logging.getLogger("shop")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    for n in range(40):
        log.info("order %d accepted", n)
        log.debug("cache miss for item %d", n)
        if n % 10 == 0:
            log.warning("stock low for item %d", n)
        if n % 13 == 0:
            try:
                {}["missing"]
            except KeyError:
                log.exception("order %d failed", n)
    """
)
PROGRAM_RECORDS = 40 * 2 + 4 + 4  # info + debug, 4 warnings, 4 exceptions (tracebacks joined)
PY_LAYOUTS = {
    "pipes": ("%(asctime)s | %(levelname)-8s | %(name)s | %(message)s", ""),
    "ctime": ("%(asctime)s %(levelname)s %(message)s", "%a %b %d %H:%M:%S %Y"),
    "epoch": ("%(created)f %(levelname)s %(message)s", ""),
    "bracketed_clf": ("[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s", "%d/%b/%Y:%H:%M:%S %z"),
    "dotted_date": ("%(asctime)s.%(msecs)03d|%(levelname)s|%(process)d|%(message)s", "%d.%m.%Y %H:%M:%S"),
}


def _run_program(path: Path, layout: str, datefmt: str) -> None:
    subprocess.run([sys.executable, "-c", PROGRAM, layout, datefmt, str(path)], check=True, timeout=60)


@pytest.mark.parametrize("name", sorted(PY_LAYOUTS))
@pytest.mark.slow
def test_python_logging_in_unknown_layouts_is_parsed(name: str, tmp_path: Path) -> None:
    """Every record with its time from the line, its level, the traceback joined to its record."""
    layout, datefmt = PY_LAYOUTS[name]
    log = tmp_path / f"{name}.log"
    started = datetime.now(UTC).replace(microsecond=0).timestamp() - 1
    _run_program(log, layout, datefmt)
    ended = datetime.now(UTC).timestamp() + 1
    db = tmp_path / f"{name}.duckdb"
    result = run_cli("ingest", "--db", str(db), str(log))
    assert result.returncode == 0, result.stderr
    rows = query_db(
        db, "SELECT format, epoch_us(ts), epoch_us(received_at), level, message FROM logs ORDER BY id"
    )
    assert len(rows) == PROGRAM_RECORDS
    assert {row[0] for row in rows} != {"raw"} and all(row[0] != "raw" for row in rows)
    for _, ts, received, _, message in rows:
        assert ts != received and started * 1e6 <= ts <= ended * 1e6, message
    levels = [row[3] for row in rows]
    assert levels.count("info") == 40 and levels.count("debug") == 40
    assert levels.count("warning") == 4 and levels.count("error") == 4
    failures = [row[4] for row in rows if row[3] == "error"]
    assert all(
        "Traceback (most recent call last):" in text and "KeyError: 'missing'" in text for text in failures
    )


@pytest.mark.slow
def test_generic_files_store_the_same_rows_in_bulk_and_streaming(tmp_path: Path) -> None:
    for name in ("ctime", "dotted_date"):
        log = tmp_path / f"{name}.log"
        _run_program(log, *PY_LAYOUTS[name])
        assert_identical(log, tmp_path)


def test_a_line_another_format_takes_is_not_joined_to_a_generic_record(tmp_path: Path) -> None:
    lines = [
        "Sun Mar 13 22:49:12 2016 ERROR first",
        "  detail line",
        '{"msg": "a json line", "level": "info"}',
        "Sun Mar 13 22:49:13 2016 INFO second",
    ]
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(lines) + "\n")
    result = run_cli("parse", str(log), "--tz", "UTC")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["format"] for r in records] == ["generic", "json", "generic"]
    assert records[0]["message"] == "first\n  detail line"


def test_logfmt_after_a_bare_leading_time_from_a_pipe() -> None:
    result = run_cli("parse", "--tz", "UTC", input='2026-12-06T10:00:20Z level=info msg="hello"\n')
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (record["format"], record["level"], record["message"]) == ("logfmt", "info", "hello")
    assert record["ts"].startswith("2026-12-06T10:00:20")


@pytest.mark.slow
def test_syslog_text_gets_inferred_levels_marked(tmp_path: Path) -> None:
    """sample_logs/syslog: the kernel OOM line carries no level; it is inferred and marked."""
    db = tmp_path / "s.duckdb"
    result = run_cli("ingest", "--db", str(db), str(REPO / "sample_logs" / "syslog"))
    assert result.returncode == 0, result.stderr
    oom = query_db(
        db, "SELECT level, fields->>'level_inferred' FROM logs WHERE message LIKE '%Out of memory%'"
    )
    assert oom == [("error", "true")]
    plain = query_db(db, "SELECT count(*) FROM logs WHERE message LIKE '%link is up%' AND level IS NULL")
    assert plain[0][0] > 0  # no alarming words: no level invented
    assert_identical(REPO / "sample_logs" / "syslog", tmp_path)
