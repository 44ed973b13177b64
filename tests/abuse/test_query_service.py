"""Issue 22, cases 5 (query socket) and 6: the query service reads and does nothing else, idle
connections cannot lock queries out, and every DuckDB logscope opens has extension auto-install
and auto-load off. A real `ingest --follow` holding a real database, the real `query` CLI."""

from __future__ import annotations

import ast
import os
import socket
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, assert_clean_error, cli_env, run_cli
from server_helpers import LiveIngest, count, json_line, wait_until

from logscope.errors import LogscopeError
from logscope.store.client import QueryClient
from logscope.store.database import connect, open_for_reading, open_for_writing
from logscope.store.server import QueryServer, ServiceLimits

REFUSED = [
    "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')",
    "CREATE TEMP TABLE scratch AS SELECT 1",
    "CREATE TEMP MACRO m() AS 1",
    "CHECKPOINT",
    "FORCE CHECKPOINT",
    "SELECT * FROM checkpoint()",
    "VACUUM",
    "ANALYZE",
    "EXPORT DATABASE '{dir}/exported'",
    "COPY logs TO '{dir}/copied.csv'",
    "EXPLAIN ANALYZE COPY logs TO '{dir}/explained.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "UPDATE EXTENSIONS",
    "PRAGMA checkpoint",
    "SET autoinstall_known_extensions = true",
    "PREPARE p AS SELECT 1",
    "DETACH DATABASE test",
]
# Reads that reach for files or the network fail inside DuckDB: external access is off.
BLOCKED_READS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('{dir}/app.jsonl')",
    "SELECT * FROM 's3://bucket/data.parquet'",
    "SELECT * FROM glob('/etc/*')",
]
ALLOWED = {
    "SELECT count(*) AS n FROM logs": "n",
    "DESCRIBE logs": "column_name",
    "SHOW TABLES": "name",
    "SUMMARIZE logs": "column_name",
    "EXPLAIN SELECT 1": "explain_key",
    "PRAGMA version": "library_version",
    "CALL pragma_database_size()": "database_name",
    "SET SESSION TimeZone = 'UTC'; SELECT 42 AS x": "x",
    "SELECT current_setting('autoinstall_known_extensions') AS v": "v",
}


@pytest.mark.slow
def test_the_service_refuses_everything_but_reading(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(json_line("2026-01-01T00:00:00Z", "one"))
    home = tmp_path / "home"
    home.mkdir()
    with LiveIngest(db, log) as live:
        wait_until(lambda: count(db) == 1)
        env = cli_env(HOME=str(home))
        for sql in REFUSED:
            result = run_cli("query", "--db", str(db), sql.format(dir=tmp_path), env=env)
            assert_clean_error(result, 1)
            assert result.stderr.count("\n") == 1, result.stderr
            refused = "not allowed through the query service" in result.stderr or "PID" in result.stderr
            # DuckDB 1.5 has no PRAGMA checkpoint (only CALL checkpoint): it fails before it could run.
            unknown = (
                sql == "PRAGMA checkpoint"
                and "Pragma Function with name checkpoint does not exist" in (result.stderr)
            )
            assert refused or unknown, sql
        for sql in BLOCKED_READS:
            result = run_cli("query", "--db", str(db), sql.format(dir=tmp_path), env=env)
            assert_clean_error(result, 1)
            assert "disabled by configuration" in result.stderr or "not allowed" in result.stderr, sql
        for sql, column in ALLOWED.items():
            result = run_cli("query", "--db", str(db), "--csv", sql, env=env)
            assert result.returncode == 0, (sql, result.stderr)
            assert result.stdout.splitlines()[0].split(",")[0] == column, (sql, result.stdout)
        settings = run_cli("query", "--db", str(db), "--csv", _SETTINGS_SQL)
        stderr = live.stop()
    assert settings.stdout.splitlines()[1:] == ["false,false,false,false"], settings
    assert "Traceback" not in stderr
    assert sorted(os.listdir(tmp_path)) == sorted(["app.jsonl", "home", db.name]), "no file was written"
    assert not any(home.iterdir()), "no extension was downloaded or secret stored"


_SETTINGS_SQL = (
    "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions'),"
    " current_setting('allow_community_extensions'), current_setting('enable_external_access')"
)


@pytest.mark.slow
def test_the_direct_path_is_locked_down_too(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(json_line("2026-01-01T00:00:00Z", "one"))
    assert run_cli("ingest", "--db", str(db), str(log)).returncode == 0
    for sql in ("COPY logs TO '{dir}/x.csv'", "SELECT * FROM read_csv('/etc/passwd')", "SET threads = 1"):
        result = run_cli("query", "--db", str(db), sql.format(dir=tmp_path))
        assert_clean_error(result, 1)
    assert not (tmp_path / "x.csv").exists()
    result = run_cli("query", "--db", str(db), "--csv", _SETTINGS_SQL)
    assert result.stdout.splitlines()[1:] == ["false,false,false,false"], result
    # `logscope export` is the way to write files, both directly and through the service.
    exported = run_cli("export", "--db", str(db), "--to", str(tmp_path / "out"))
    assert exported.returncode == 0 and "exported 1 record " in exported.stdout, exported.stderr


@pytest.mark.slow
def test_every_connection_logscope_opens_is_configured(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    for opener in (connect, lambda: open_for_writing(path), lambda: open_for_reading(path)):
        con = opener()
        values = con.execute(_SETTINGS_SQL).fetchone()
        assert values[:3] == (False, False, False)
        con.close()
    # No other duckdb.connect in the package: the rule sandbox has its own config (checked by its
    # tests), the lake's in-memory connection passes store.database.SAFE_CONFIG (it loads the lake's
    # extensions by path, tests/test_lake.py), everything else goes through store.database.connect.
    calls = []
    for path in (REPO / "logscope").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "duckdb.connect":
                calls.append(str(path.relative_to(REPO)))
    assert sorted(calls) == [
        "logscope/alerting/sandbox.py",
        "logscope/lake/connect.py",
        "logscope/parsing/vectorized/re2.py",
        "logscope/store/database.py",
    ]
    lake_calls = [
        ast.unparse(node)
        for node in ast.walk(ast.parse((REPO / "logscope/lake/connect.py").read_text()))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "duckdb.connect"
    ]
    assert lake_calls == ["duckdb.connect(':memory:', config=dict(SAFE_CONFIG))"]
    # The format plans ask RE2 questions of a private in-memory instance: safe, no file access.
    from logscope.parsing.vectorized import re2

    re2.re2_matches_empty("a*")
    values = re2._RE2_CONNECTION[0].execute(_SETTINGS_SQL).fetchone()
    assert values == (False, False, False, False)


@pytest.fixture
def served(tmp_path: Path):
    """An in-process service over a small database, with short limits."""
    path = tmp_path / "s.duckdb"
    con = open_for_writing(str(path))
    limits = ServiceLimits(
        connections=12, connections_per_client=10, queries=2, queue_seconds=60.0, request_seconds=1.0
    )
    server = QueryServer(con, str(path), limits=limits)
    server.start()
    yield server
    server.stop()
    con.close()


def idle_connection(server: QueryServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(server.path)
    return sock


def ask(server: QueryServer, sql: str = "SELECT 42") -> list[tuple]:
    with QueryClient(server.path) as client:
        return list(client.query(sql).rows())


def test_idle_connections_do_not_lock_queries_out(served: QueryServer) -> None:
    idle = [idle_connection(served) for _ in range(8)]  # the 8 silent connections
    started = time.monotonic()
    assert ask(served) == [(42,)]
    assert time.monotonic() - started < 5
    # They are closed once they have kept quiet for request_seconds.
    for sock in idle:
        sock.settimeout(10)
        assert sock.recv(1) == b""
    assert ask(served) == [(42,)]


def test_a_request_sent_a_byte_at_a_time_is_cut_off(served: QueryServer) -> None:
    sock = idle_connection(served)
    started = time.monotonic()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for byte in b"J\x00\x00\x00\x20" + b" " * 32:
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
    assert time.monotonic() - started < 5
    sock.close()


def test_connection_limits_per_process_and_in_all(served: QueryServer) -> None:
    idle = [idle_connection(served) for _ in range(10)]
    with pytest.raises(LogscopeError, match="at most 10 per process"):
        ask(served)
    for sock in idle:
        sock.close()
    wait_until(lambda: not served._clients, timeout=5)
    assert ask(served) == [(42,)]


def test_running_queries_share_slots_and_wait_their_turn(served: QueryServer) -> None:
    slow = "SELECT count(*) FROM range(20000000) a"
    answers: list[object] = []

    def run() -> None:
        try:
            answers.append(ask(served, slow))
        except LogscopeError as exc:
            answers.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]  # two slots: two wait, then run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [[(20_000_000,)]] * 4


def test_no_extension_is_downloaded_or_autoloaded(tmp_path: Path) -> None:
    """Even where files may be written (export's connection), a URL does not pull in httpfs."""
    con = connect(external_access=True)
    with pytest.raises(duckdb.Error, match=r"(?i)autoload|install|not.*loaded|httpfs"):
        con.execute("SELECT * FROM 'https://example.com/x.parquet'").fetchall()
    con.close()
    holder = open_for_writing(str(tmp_path / "h.duckdb"))
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        holder.execute("SELECT * FROM 'https://example.com/x.parquet'").fetchall()
    holder.close()
