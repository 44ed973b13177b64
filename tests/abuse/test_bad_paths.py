"""Bad paths and option values: a database path that cannot be one (under a regular file, a file
that is not a DuckDB database) and a time, duration or size an option cannot read: one line
naming the path or the option, no traceback, and a file given as the database left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, assert_clean_error, run_cli

LOG = str(REPO / "sample_logs" / "syslog")


def test_a_database_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("not a folder\n")
    db = plain / "x.duckdb"
    result = run_cli("ingest", "-q", "--db", str(db), LOG)
    assert_clean_error(result, 1)
    assert f"logscope: error: {db}: cannot create its folder: " in result.stderr
    assert plain.read_text() == "not a folder\n"


def test_a_file_that_is_not_a_database_is_one_line_and_untouched(tmp_path: Path) -> None:
    text = tmp_path / "notes.duckdb"
    text.write_text("my notes\n")
    for command in (["ingest", "-q", "--db", str(text), LOG], ["query", "--db", str(text), "SELECT 1"]):
        result = run_cli(*command)
        assert_clean_error(result, 1)
        assert f"logscope: error: {text}: cannot open database: " in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert text.read_text() == "my notes\n"


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        (["export", "--to", "out", "--since", "yesterday-ish"], "--since", "yesterday-ish"),
        (["patterns", "--new-since", "2026-13-45"], "--new-since", "2026-13-45"),
        (["markers", "--until", "soon"], "--until", "soon"),
        (["mark", "deploy", "--at", "noon"], "--at", "noon"),
        (["vacuum", "--retain", "5x"], "--retain", "5x"),
        (["vacuum", "--max-db-size", "12XB"], "--max-db-size", "12XB"),
        (["ingest", "-q", "--retain", "a week", LOG], "--retain", "a week"),
        (["compare", "--before", "then..", "--after", "2026-11-20.."], "--before", "then"),
    ],
    ids=lambda part: part[0] if isinstance(part, list) else None,
)
def test_a_bad_time_duration_or_size_names_its_option(
    command: list[str], option: str, value: str, tmp_path: Path
) -> None:
    db = tmp_path / "x.duckdb"
    assert run_cli("ingest", "-q", "--db", str(db), LOG).returncode == 0
    result = run_cli(*command, "--db", str(db), cwd=tmp_path)
    assert_clean_error(result, 2)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"logscope: error: {option}: {value!r}: not a "), line
