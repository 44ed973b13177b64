"""`logscope query`: output formats, SQL from stdin, clean errors, read-only access."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli

from logscope.output import TABLE_MAX_ROWS


@pytest.fixture
def filled_db(tmp_path: Path, db: Path) -> Path:
    log = tmp_path / "app.jsonl"
    log.write_text(
        '{"ts":"2024-05-01T10:00:00Z","level":"error","msg":"a|b","code":7}\n'
        '{"ts":"2024-05-01T10:00:01Z","level":"info","msg":"second, with comma"}\n'
    )
    assert run_cli("ingest", str(log), "--db", str(db)).returncode == 0
    return db


SQL = "SELECT id, ts, level, message, fields FROM logs ORDER BY id"


def query(db: Path, *args: str, sql: str = SQL, input: str | None = None) -> str:
    result = run_cli("query", "--db", str(db), *args, sql, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_piped_default_is_tsv_with_header(filled_db: Path) -> None:
    assert query(filled_db).splitlines() == [
        "id\tts\tlevel\tmessage\tfields",
        '1\t2024-05-01T10:00:00.000Z\terror\ta|b\t{"code":7}',
        "2\t2024-05-01T10:00:01.000Z\tinfo\tsecond, with comma\t",
    ]


def test_csv(filled_db: Path) -> None:
    rows = list(csv.reader(io.StringIO(query(filled_db, "--csv"))))
    assert rows[0] == ["id", "ts", "level", "message", "fields"]
    assert rows[1] == ["1", "2024-05-01T10:00:00.000Z", "error", "a|b", '{"code":7}']
    assert rows[2] == ["2", "2024-05-01T10:00:01.000Z", "info", "second, with comma", ""]


def test_json_and_jsonl_decode_json_columns(filled_db: Path) -> None:
    document = json.loads(query(filled_db, "--json"))
    assert document[0] == {
        "id": 1,
        "ts": "2024-05-01T10:00:00.000Z",
        "level": "error",
        "message": "a|b",
        "fields": {"code": 7},
    }
    lines = [json.loads(line) for line in query(filled_db, "--nl").splitlines()]
    assert lines == document
    assert json.loads(query(filled_db, "--json", sql="SELECT 1 AS x WHERE false")) == []


def test_markdown_escapes_pipes(filled_db: Path) -> None:
    lines = query(filled_db, "--markdown").splitlines()
    assert lines[0] == "| id | ts | level | message | fields |"
    assert lines[1] == "|---|---|---|---|---|"
    assert lines[2] == '| 1 | 2024-05-01T10:00:00.000Z | error | a\\|b | {"code":7} |'


def test_table_shows_headers_and_values(filled_db: Path) -> None:
    text = query(filled_db, "--table")
    assert "message" in text and "second, with comma" in text and "a|b" in text


def test_a_table_of_many_rows_shows_the_first_thousand_and_says_so() -> None:
    """rich holds a whole table in memory: a million rows took minutes and gigabytes."""

    def table(count: int) -> tuple[list[str], str]:
        done = run_cli("query", "--table", "--db", ":memory:", f"SELECT range AS n FROM range({count})")
        assert done.returncode == 0, done.stderr
        return [line.strip("│ ") for line in done.stdout.splitlines() if line.startswith("│")], done.stderr

    cells, stderr = table(1_000_000)
    assert cells == [str(n) for n in range(TABLE_MAX_ROWS)]
    assert stderr == (
        f"logscope: the first {TABLE_MAX_ROWS:,} rows are shown; --tsv, --csv or --nl print all of them\n"
    )
    assert table(TABLE_MAX_ROWS) == ([str(n) for n in range(TABLE_MAX_ROWS)], "")  # all: no note


def test_sql_from_stdin(filled_db: Path) -> None:
    out = query(filled_db, sql="-", input="SELECT count(*) AS n FROM logs WHERE level = 'error'")
    assert out.splitlines() == ["n", "1"]


def test_bad_sql_is_one_line_exit_1(filled_db: Path) -> None:
    result = run_cli("query", "--db", str(filled_db), "SELEC nonsense")
    assert_clean_error(result, 1)
    assert result.stderr.strip().splitlines() == [
        'logscope: error: Parser Error: syntax error at or near "SELEC"'
    ]
    missing = run_cli("query", "--db", str(filled_db), "SELECT nope FROM logs")
    assert_clean_error(missing, 1)
    assert len(missing.stderr.strip().splitlines()) == 1
    assert 'Referenced column "nope" not found' in missing.stderr


def test_query_cannot_change_the_database(filled_db: Path) -> None:
    result = run_cli("query", "--db", str(filled_db), "DELETE FROM logs")
    assert_clean_error(result, 1)
    assert "read-only" in result.stderr
    assert query(filled_db, sql="SELECT count(*) FROM logs").splitlines()[1] == "2"


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("query", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert_clean_error(result, 1)
    assert "no database here yet" in result.stderr
    assert not (tmp_path / "none.duckdb").exists()


def test_empty_sql_is_a_usage_error(filled_db: Path) -> None:
    assert_clean_error(run_cli("query", "--db", str(filled_db), "  "), 2)
