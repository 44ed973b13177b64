"""The lake (docs/lake.md) against a real PostgreSQL catalog and a local data directory:
agents ship exactly once, `query --lake` reads every agent's records (and earlier snapshots),
users' SQL stays sandboxed, and the lake is opt-in."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import REPO, cli_env, query_db
from lake_helpers import PostgresCluster, lake_url
from terminal import Terminal, logscope_command, needs_tmux

from logscope.cli import main
from logscope.errors import LogscopeError
from logscope.lake.config import resolve_lake


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster()
    yield cluster
    cluster.close()


def _new_lake(postgres: PostgresCluster, where: Path) -> str:
    url = lake_url(postgres.create_database(f"lake_{uuid.uuid4().hex[:12]}"), where)
    where.mkdir()
    assert main(["lake", "init", url]) == 0
    return url


@pytest.fixture
def lake(postgres: PostgresCluster, tmp_path: Path) -> str:
    return _new_lake(postgres, tmp_path / "lake")


@pytest.fixture(scope="module")
def shared_lake(postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One lake for the tests that only read it."""
    return _new_lake(postgres, tmp_path_factory.mktemp("shared") / "lake")


def _lines(path: Path, agent: str, first: int, count: int, day: str = "2026-12-07") -> list[str]:
    lines = [
        f"{day}T03:00:{n % 60:02d}Z web{agent} app[7]: request {agent}-{n} served"
        for n in range(first, first + count)
    ]
    with open(path, "a") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return lines


def _ship(tmp_path: Path, lake: str, agent: str, *options: str) -> None:
    """Agent `agent` ingests its log `<agent>.log` into `<agent>.duckdb` and ships it to the lake."""
    database, log = tmp_path / f"{agent}.duckdb", tmp_path / f"{agent}.log"
    assert (
        main(["ingest", "-q", "--db", str(database), "--lake", lake, "--agent", agent, *options, str(log)])
        == 0
    )


def _query(capsys: pytest.CaptureFixture, *args: str) -> list[list[str]]:
    capsys.readouterr()
    assert main(["query", "--tsv", *args]) == 0
    return [row.split("\t") for row in capsys.readouterr().out.splitlines()[1:]]


@pytest.mark.slow
def test_agents_ship_each_record_once_and_the_lake_reads_as_one(lake: str, tmp_path: Path, capsys) -> None:
    written = []
    for agent in ("a", "b"):
        log = tmp_path / f"{agent}.log"
        written += _lines(log, agent, 0, 300)
        _ship(tmp_path, lake, agent)
    first = _query(capsys, "--lake", lake, "SELECT max(snapshot_id) FROM ducklake_snapshots('lake')")[0][0]
    # The same agent again: only what was appended reaches the lake.
    written += _lines(tmp_path / "a.log", "a", 300, 200)
    _ship(tmp_path, lake, "a")

    rows = _query(capsys, "--lake", lake, "SELECT raw, count(*) FROM logs GROUP BY raw")
    assert sorted(raw for raw, _ in rows) == sorted(written)
    assert {count for _, count in rows} == {"1"}
    per_agent = _query(capsys, "--lake", lake, "SELECT agent, count(*) FROM logs GROUP BY ALL ORDER BY ALL")
    assert per_agent == [["a", "500"], ["b", "300"]]
    # The same typed per-format view as a local database, and the lake as it was.
    assert _query(capsys, "--lake", lake, "SELECT count(*) FROM syslog WHERE host = 'weba'") == [["500"]]
    assert _query(capsys, "--lake", lake, "--at", first, "SELECT count(*) FROM logs") == [["600"]]

    capsys.readouterr()
    assert main(["lake", "status", "--tsv", lake]) == 0
    status = [row.split("\t") for row in capsys.readouterr().out.splitlines()]
    assert status[0][:3] == ["agent", "agent_host", "records"]
    assert [(row[0], row[2]) for row in status[1:]] == [("a", "500"), ("b", "300")]


@pytest.mark.slow
def test_compact_and_expire_apply_to_the_lake(lake: str, tmp_path: Path, capsys) -> None:
    log = tmp_path / "c.log"
    for round_ in range(3):  # three agent runs: three commits, three files
        _lines(log, "c", round_ * 100, 100, day="2020-01-01")
        _ship(tmp_path, lake, "c")
    capsys.readouterr()
    assert main(["lake", "compact", lake]) == 0
    message = capsys.readouterr().err
    assert "data files merged into 1" in message, message
    assert main(["lake", "expire", lake, "--retain", "1d", "--snapshots", "0s"]) == 0
    message = capsys.readouterr().err
    assert "300 records deleted" in message, message  # their event times are of 2020
    assert _query(capsys, "--lake", lake, "SELECT count(*) FROM logs") == [["0"]]


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        (
            "SELECT * FROM postgres_query('__ducklake_metadata_lake', 'SELECT 1')",
            "postgres_query() is not allowed",
        ),
        ("CALL postgres_execute('__ducklake_metadata_lake', 'DROP TABLE ducklake_snapshot')", "not CALL"),
        ("SELECT * FROM __ducklake_metadata_lake.ducklake_snapshot", "catalog database is not queryable"),
        ("SELECT * FROM read_text('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM ducklake_expire_snapshots('lake', older_than => now())", "is not allowed"),
        ("INSERT INTO lake.logs (raw) VALUES ('forged')", "not INSERT"),
        ("ATTACH '/tmp/other.duckdb' AS other", "not ATTACH"),
        ("SET enable_external_access = true", "not SET"),
        ("SELECT 1; DETACH lake", "not DETACH"),
        ("EXPLAIN ANALYZE SELECT * FROM postgres_query('x', 'SELECT 1')", "not allowed"),
    ],
)
@pytest.mark.slow
def test_users_sql_on_the_lake_is_sandboxed(shared_lake: str, sql: str, refusal: str, capsys) -> None:
    capsys.readouterr()
    assert main(["query", "--lake", shared_lake, sql]) == 1
    assert refusal in capsys.readouterr().err


def test_lake_names_come_from_the_config_file_with_credentials_by_reference(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "logscope").mkdir()
    config = tmp_path / "logscope" / "config.toml"
    config.write_text(
        '[lake.prod]\ncatalog = "postgresql://logscope@db.example:5432/lake"\npassword_env = "LAKE_PW"\n'
        'data_path = "s3://logs/lake/"\n[lake.prod.s3]\nendpoint = "minio.example:9000"\nurl_style = "path"\n'
        'key_id_env = "LAKE_KEY"\nsecret_env = "LAKE_SECRET"\n'
    )
    monkeypatch.setenv("LAKE_PW", "s3cr'et")
    prod = resolve_lake("prod")
    assert prod.data_path == "s3://logs/lake/" and prod.s3.url_style == "path"
    assert "password=s3cr%27et" in prod.catalog_with_password()
    config.write_text('[lake.bad]\ncatalog = "dbname=lake"\ndata_path = "/srv"\npassword = "plain"\n')
    with pytest.raises(LogscopeError, match="password must not be written in the file"):
        resolve_lake("bad")
    with pytest.raises(LogscopeError, match=r"not in .*config.toml .*lakes there: bad"):
        resolve_lake("nope")
    with pytest.raises(LogscopeError, match=r"needs \?data_path="):
        resolve_lake("postgresql://logscope@127.0.0.1/lake")


@pytest.mark.slow
def test_without_lake_nothing_of_it_is_loaded(tmp_path: Path) -> None:
    """The lake is opt-in: a plain ingest and query import none of it (nor need its extensions)."""
    probe = (
        "import sys; from logscope.cli import main;"
        f"main(['ingest', '-q', '--db', {str(tmp_path / 'x.duckdb')!r}, {str(REPO / 'sample_logs')!r}]);"
        f"main(['query', '--db', {str(tmp_path / 'x.duckdb')!r}, 'SELECT 1']);"
        "print(sorted(m for m in sys.modules if m.startswith('logscope.lake')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), check=True
    )
    assert out.stdout.splitlines()[-1] == "[]"


@pytest.mark.slow
def test_patterns_and_rule_backtests_run_over_every_agents_records(lake: str, tmp_path: Path, capsys) -> None:
    for agent in ("x", "y"):  # 40 served lines each, in two agents' databases
        log = tmp_path / f"{agent}.log"
        _lines(log, agent, 0, 40)
        _ship(tmp_path, lake, agent)
    capsys.readouterr()
    assert main(["patterns", "--lake", lake, "--tsv"]) == 0
    rows = [row.split("\t") for row in capsys.readouterr().out.splitlines()[1:]]
    assert [(row[1], row[5]) for row in rows] == [("80", "request <*> served")]

    rules = tmp_path / "served.toml"
    rules.write_text(
        '[[rule]]\nname = "many_served"\nkind = "threshold"\nseverity = "info"\n'
        'where = "message LIKE \'request % served\'"\nwindow = "5m"\nthreshold = 50\n'
        'summary = "{count} served"\n'
    )
    assert main(["rules", "backtest", str(rules), "--lake", lake, "--tsv"]) == 0
    out, err = capsys.readouterr()
    fired = [row.split("\t") for row in out.splitlines()[1:] if "\tfiring\t" in row]
    assert [row[2] for row in fired] == ["many_served"]  # 80 records of both agents in one window
    assert "80 lines" in err


def _wait_for_lake_count(capsys: pytest.CaptureFixture, lake: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        seen = int(_query(capsys, "--lake", lake, "SELECT count(*) FROM logs")[0][0])
        if seen == count:
            return
        assert time.monotonic() < deadline, f"the lake holds {seen} records, not {count}"
        time.sleep(0.5)


@needs_tmux
@pytest.mark.slow
def test_tail_ships_what_it_follows_to_the_lake_while_it_shows_it(lake: str, tmp_path: Path, capsys) -> None:
    log, db = tmp_path / "t.log", tmp_path / "t.duckdb"
    written = _lines(log, "t", 0, 100)
    command = logscope_command("tail", str(log), "--db", str(db), "--lake", lake, "--agent", "t")
    terminal = Terminal(command, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        terminal.wait_for("/100", timeout=60)
        _wait_for_lake_count(capsys, lake, 100)  # shipped while the terminal UI runs
        written += _lines(log, "t", 100, 50)
        terminal.wait_for("/150")
        _wait_for_lake_count(capsys, lake, 150)
        terminal.keys("q")
        terminal.wait_for("__exited 0")
    finally:
        terminal.close()
    rows = _query(capsys, "--lake", lake, "SELECT raw, agent, count(*) FROM logs GROUP BY ALL")
    assert sorted(raw for raw, _, _ in rows) == sorted(written)
    assert {(agent, count) for _, agent, count in rows} == {("t", "1")}


UNREACHABLE_PORT = 19901  # nothing listens there (this helper's port range)


@pytest.mark.slow
def test_local_retention_keeps_the_records_the_lake_does_not_have_yet(
    lake: str, tmp_path: Path, capsys
) -> None:
    log, db = tmp_path / "r.log", tmp_path / "r.duckdb"
    written = _lines(log, "r", 0, 200, day="2020-01-01")  # years older than --retain 1d
    down = lake_url(f"postgresql://logscope@127.0.0.1:{UNREACHABLE_PORT}/lake", tmp_path / "down")
    # The lake cannot be reached: the run's retention passes keep every record for it.
    capsys.readouterr()
    _ship(tmp_path, down, "r", "--retain", "1d")
    assert "(records stay local and are sent later)" in capsys.readouterr().err
    assert query_db(db, "SELECT count(*) FROM logs") == [(200,)]
    assert main(["vacuum", "--db", str(db), "--retain", "1d"]) == 0
    out = capsys.readouterr().out
    assert "deleted 0 records" in out and "kept 200 older records the lake does not have yet" in out, out
    assert query_db(db, "SELECT count(*) FROM logs") == [(200,)]
    # The lake is back: the next run ships them all, and only then deletes them locally.
    _ship(tmp_path, lake, "r", "--retain", "1d")
    assert query_db(db, "SELECT count(*) FROM logs") == [(0,)]
    rows = _query(capsys, "--lake", lake, "SELECT raw, count(*) FROM logs GROUP BY raw")
    assert sorted(raw for raw, _ in rows) == sorted(written)
    assert {count for _, count in rows} == {"1"}
