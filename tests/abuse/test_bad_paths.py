"""A database path that cannot be one: under a regular file, or a file that is not a DuckDB
database. One line naming the path, exit 1, no traceback, and the file left as it was."""

from __future__ import annotations

from pathlib import Path

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
