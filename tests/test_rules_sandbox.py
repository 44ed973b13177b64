"""Rule SQL cannot read or write files, attach databases, load extensions or reach Python objects."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli

from logscope.alerting.engine import RuleEngine
from logscope.alerting.loader import load_paths
from logscope.alerting.sandbox import RuleSqlError, check_select, open_sandbox
from logscope.record import Record
from logscope.store.database import MEMORY, open_for_writing
from logscope.store.writer import LogWriter

S = 1_000_000
T0 = 1_767_225_600 * S


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_text('/etc/hostname')", "file system operations are disabled"),
        ("COPY (SELECT 1) TO '/tmp/logscope-sandbox-escape.csv'", "file system operations are disabled"),
        ("ATTACH '/tmp/logscope-sandbox.duckdb' AS other", "file system operations are disabled"),
        ("INSTALL httpfs", "file system operations are disabled"),
        ("LOAD httpfs", "Loading external extensions is disabled"),
        ("SET enable_external_access = true", "the configuration has been locked"),
    ],
)
def test_the_sandbox_refuses_files_extensions_and_reconfiguration(sql: str, refusal: str) -> None:
    con = open_sandbox()
    with pytest.raises(Exception, match=refusal):
        con.execute(sql)
    assert not Path("/tmp/logscope-sandbox-escape.csv").exists()


def test_python_variables_are_not_tables_in_the_sandbox() -> None:
    secret_table = [1, 2, 3]  # noqa: F841 - DuckDB's replacement scan would find this by name
    con = open_sandbox()
    with pytest.raises(Exception, match="secret_table does not exist"):
        con.execute("SELECT * FROM secret_table")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("COPY logs TO '/tmp/x.csv'", "only a SELECT query is allowed here, not COPY"),
        ("ATTACH 'x.db'", "only a SELECT query is allowed here, not ATTACH"),
        ("INSTALL httpfs", "only a SELECT query is allowed here, not LOAD"),
        ("SELECT 1; SELECT 2", "must be exactly one statement, found 2"),
        ("DELETE FROM logs", "only a SELECT query is allowed here, not DELETE"),
    ],
)
def test_sql_rules_must_be_one_select(sql: str, message: str) -> None:
    with pytest.raises(RuleSqlError, match=message):
        check_select(sql)


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "evil.toml"
    path.write_text(text)
    return path


def test_rules_check_refuses_file_access_with_a_clear_message(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        """
[[rule]]
name = "peek"
kind = "sql"
query = "SELECT * FROM read_csv('/etc/passwd')"

[[rule]]
name = "export"
kind = "sql"
query = "COPY (SELECT * FROM logs) TO '/tmp/stolen.csv'"

[[rule]]
name = "sneaky_where"
kind = "match"
where = "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0"

[[rule]]
name = "injected"
kind = "match"
where = "true) AS m0 FROM b; COPY b TO '/tmp/stolen.csv'; SELECT (true"
""",
    )
    result = run_cli("rules", "check", str(path))
    assert_clean_error(result, 2)
    lines = result.stderr.strip().splitlines()
    assert (
        f"logscope: error: {path}: rule 'peek': field 'query': Permission Error: Cannot access file"
        in lines[0]
    )
    assert "file system operations are disabled by configuration" in lines[0]
    refused = "only a SELECT query is allowed here, not COPY"
    assert lines[1] == f"logscope: error: {path}: rule 'export': field 'query': {refused}"
    assert f"{path}: rule 'sneaky_where': field 'where': Permission Error" in lines[2]
    assert f"{path}: rule 'injected': field 'where': not a valid SQL expression" in lines[3]
    assert not Path("/tmp/stolen.csv").exists()


def test_a_rule_reading_files_at_run_time_is_disabled_and_the_others_run(tmp_path: Path) -> None:
    """Loaded without `rules check` (which would refuse it), the rule fails on its first batch."""
    path = write_rules(
        tmp_path,
        """
[[rule]]
name = "peek"
kind = "match"
where = "message IN (SELECT * FROM read_text('/etc/hostname'))"

[[rule]]
name = "errors"
kind = "match"
where = "level = 'error'"
""",
    )
    con = open_for_writing(MEMORY)
    errors: list[str] = []
    engine = RuleEngine(load_paths([str(path)]), store=con, on_error=errors.append)
    records = [Record(T0, T0, "s", None, "json", "error", "root", {"path": "/etc/passwd"}, "r")]
    LogWriter(con).write(records)
    engine.on_records(records)
    assert engine.notifications == 1  # `errors` fired
    assert len(errors) == 1
    assert "rule 'peek' failed and is disabled" in errors[0]
    assert "Permission Error: Cannot access file" in errors[0]
    assert "file system operations are disabled by configuration" in errors[0]
    engine.close()
    con.close()


def test_sql_rules_see_a_snapshot_not_the_database(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        """
[[rule]]
name = "tables"
kind = "sql"
query = "SELECT table_name FROM duckdb_tables() WHERE table_name <> 'logs'"
interval = "1s"
""",
    )
    con = open_for_writing(MEMORY)
    engine = RuleEngine(load_paths([str(path)]), store=con)
    records = [Record(T0 + i * S, T0, "s", None, "json", "info", "m", None, "r") for i in range(3)]
    LogWriter(con).write(records)
    engine.on_records(records)
    engine.advance(T0 + 10 * S)
    # The store has checkpoints, meta, alerts ... but the rule's instance holds none of them.
    assert engine.notifications == 0
    engine.close()
    con.close()
