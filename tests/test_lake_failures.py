"""A lake that cannot be opened or read fails with one line and leaves nothing open: not the
in-memory DuckDB connection, not the catalog's PostgreSQL connection (counted in
pg_stat_activity while the error, and with it the failed function's frame, is still held)."""

from __future__ import annotations

import subprocess
import traceback
import uuid
from pathlib import Path

import duckdb
import pytest
from lake_helpers import PG_BIN, PostgresCluster, lake_url
from ports import worker_port

from logscope.cli import main
from logscope.errors import LogscopeError
from logscope.lake.config import resolve_lake
from logscope.lake.connect import open_lake
from logscope.lake.reader import copy_to_local, open_lake_for_reading


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster()
    yield cluster
    cluster.close()


def _open_connections(failure: pytest.ExceptionInfo) -> list[str]:
    """The DuckDB connections the failed call's frames still hold open."""
    found = []
    for frame, _ in traceback.walk_tb(failure.tb):
        for name, value in frame.f_locals.items():
            if isinstance(value, duckdb.DuckDBPyConnection):
                try:
                    value.execute("SELECT 1")
                except duckdb.ConnectionException:
                    continue  # closed
                found.append(f"{frame.f_code.co_name}: {name}")
    return found


def _catalog_backends(postgres: PostgresCluster, database: str) -> int:
    """PostgreSQL connections to `database` now."""
    sql = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}'"
    server = ["-h", "127.0.0.1", "-p", str(postgres.port), "-U", "logscope", "-d", "postgres"]
    command = [str(PG_BIN / "psql"), *server]
    result = subprocess.run([*command, "-Atc", sql], check=True, capture_output=True, text=True)
    return int(result.stdout)


def test_an_unreachable_catalog_fails_in_one_line_and_closes_duckdb(tmp_path: Path, capsys) -> None:
    closed_port = worker_port(25000)  # nothing listens there
    url = lake_url(f"postgresql://logscope@127.0.0.1:{closed_port}/lake", tmp_path)
    with pytest.raises(LogscopeError, match="Connection refused") as failure:
        open_lake(resolve_lake(url), read_only=True)
    assert _open_connections(failure) == []
    assert main(["query", "--lake", url, "SELECT count(*) FROM logs"]) == 1
    error = capsys.readouterr().err
    assert "Connection refused" in error and "Traceback" not in error and len(error.splitlines()) == 1


def test_a_missing_s3_credential_closes_duckdb(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LOGSCOPE_TEST_NO_KEY", raising=False)
    config_home = tmp_path / "config"
    (config_home / "logscope").mkdir(parents=True)
    (config_home / "logscope" / "config.toml").write_text(
        '[lake.s3lake]\ncatalog = "postgresql://logscope@127.0.0.1:1/lake"\ndata_path = "s3://bucket/lake/"\n'
        '[lake.s3lake.s3]\nkey_id_env = "LOGSCOPE_TEST_NO_KEY"\nsecret_env = "LOGSCOPE_TEST_NO_KEY"\n'
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    with pytest.raises(LogscopeError, match=r"\$LOGSCOPE_TEST_NO_KEY .* is not set") as failure:
        open_lake(resolve_lake("s3lake"))
    assert _open_connections(failure) == []


@pytest.mark.parametrize(
    ("read", "error"),
    [
        (lambda config: open_lake_for_reading(config, at="999"), "No snapshot found at version 999"),
        (lambda config: open_lake_for_reading(config, at="yesterday"), "invalid timestamp"),
        (lambda config: copy_to_local(config, at="999"), "No snapshot found at version 999"),
    ],
    ids=["query-snapshot", "query-time", "patterns-snapshot"],
)
def test_a_failed_read_closes_the_catalog_connection(
    postgres: PostgresCluster, tmp_path: Path, read, error: str
) -> None:
    database = f"lake_{uuid.uuid4().hex[:12]}"
    url = lake_url(postgres.create_database(database), tmp_path)
    assert main(["lake", "init", url]) == 0
    config = resolve_lake(url)
    held = open_lake(config, read_only=True)
    assert _catalog_backends(postgres, database) == 1  # what an open lake holds
    held.close()
    with pytest.raises(LogscopeError, match=error) as failure:
        read(config)
    assert _open_connections(failure) == []
    assert _catalog_backends(postgres, database) == 0


def test_a_catalog_without_a_lake_says_to_init_it(postgres: PostgresCluster, tmp_path: Path, capsys) -> None:
    database = f"lake_{uuid.uuid4().hex[:12]}"
    url = lake_url(postgres.create_database(database), tmp_path)
    for command in (["query", "--lake", url, "SELECT 1"], ["lake", "status", url]):
        assert main(command) == 1
        error = capsys.readouterr().err
        assert "holds no lake yet (run `logscope lake init`)" in error and len(error.splitlines()) == 1
    assert _catalog_backends(postgres, database) == 0


def test_a_rule_backtest_on_an_unreachable_lake_reports_the_error_plainly(tmp_path: Path, capsys) -> None:
    url = lake_url(f"postgresql://logscope@127.0.0.1:{worker_port(25001)}/lake", tmp_path)
    rules = Path(__file__).parent.parent / "rules" / "app.toml"
    assert main(["rules", "backtest", "--lake", url, str(rules)]) == 1
    error = capsys.readouterr().err
    assert "Connection refused" in error and "LogscopeError" not in error
