"""Real database servers write their logs; `logscope ingest` must read them as the server wrote them.

MariaDB (error, slow query and general logs), Redis and PostgreSQL each run on a private port in a
temporary directory, do some work (queries, a failing query, a refused login), stop, and the logs
they wrote are ingested with the real CLI.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    free_port,
    ingest,
    now,
    program,
    running,
    shared_dir,
    wait_for,
)

# Under pytest-xdist (--dist loadgroup) the whole module runs in one worker: one MariaDB server (a module
# fixture) serves its tests.
pytestmark = pytest.mark.xdist_group("databases")

MARIADB_PORT = free_port(47420)
REDIS_PORT = free_port(47421)
POSTGRES_PORT = free_port(47422)
QUERIES = 120  # enough records that a header or banner line stays under 1%


@dataclass
class Run:
    """The logs a server wrote and when it ran."""

    dir: Path
    start: dt.datetime
    end: dt.datetime


def _sql_workload() -> str:
    statements = ["CREATE DATABASE shop;", "USE shop;", "CREATE TABLE t (id INT PRIMARY KEY, name TEXT);"]
    statements += [f"INSERT INTO t VALUES ({n}, 'item {n}');" for n in range(QUERIES)]
    statements += ["SELECT * FROM t\nWHERE id = 1;", "SELECT * FROM nosuch;"]
    return "\n".join(statements)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Run]:
    mariadbd = program("mariadbd")
    client = program("mariadb")
    with shared_dir("mariadb") as root:
        setup = subprocess.run(
            [
                program("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={root}/data",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "TZ": "UTC"},
        )
        assert setup.returncode == 0, setup.stderr
        start = now()
        argv = [
            mariadbd,
            "--no-defaults",
            f"--datadir={root}/data",
            f"--socket={root}/sock",
            f"--port={MARIADB_PORT}",
            "--bind-address=127.0.0.1",
            "--user=root",
            f"--log-error={root}/error.log",
            "--slow-query-log=1",
            f"--slow-query-log-file={root}/slow.log",
            "--long-query-time=0",
            "--general-log=1",
            f"--general-log-file={root}/general.log",
            f"--pid-file={root}/mariadb.pid",
            "--innodb-buffer-pool-size=16M",
            "--plugin-load-add=server_audit",
            "--server-audit-logging=ON",
            f"--server-audit-file-path={root}/audit.log",
            "--server-audit-events=CONNECT,QUERY,TABLE",
        ]
        with running(argv, cwd=root, port=MARIADB_PORT) as server:
            connect = [client, "--no-defaults", f"--socket={root}/sock", "-uroot"]
            subprocess.run([*connect, "--force"], input=_sql_workload(), capture_output=True, text=True)
            refused = subprocess.run([*connect, "-pwrong", "-e", "SELECT 1"], capture_output=True, text=True)
            assert "Access denied" in refused.stderr
            subprocess.run(
                [program("mariadb-admin"), "--no-defaults", f"--socket={root}/sock", "-uroot", "shutdown"],
                capture_output=True,
            )
            server.wait(30)
        # A start with an unknown option writes [ERROR] lines to the same error log, then aborts.
        subprocess.run(
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={root}/data",
                f"--log-error={root}/error.log",
                "--user=root",
                "--no-such-option",
            ],
            capture_output=True,
            env={**os.environ, "TZ": "UTC"},
        )
        yield Run(root, start, now())


@pytest.mark.slow
def test_mariadb_error_log(mariadb: Run, db: Path) -> None:
    log = mariadb.dir / "error.log"
    stored = ingest(log, db)
    assert_parsed(stored, {"mariadb_error"}, share=1.0)
    # The audit plugin writes `261207  1:15:12 server_audit: …` lines (MySQL 5.5's layout).
    timestamped = count_lines(log, lambda line: re.match(r"(?:\d{4}-\d\d-\d\d|\d{6}) +\d", line) is not None)
    assert len(stored.rows) == timestamped  # `Version: …` joined to `ready for connections`
    assert_times_from_lines(stored.rows, mariadb.start, mariadb.end)
    assert stored.levels["error"] == count_lines(log, lambda line: "[ERROR]" in line) >= 2
    assert stored.levels["warning"] == count_lines(log, lambda line: "[Warning]" in line) >= 1
    ready = next(row for row in stored.rows if "ready for connections" in row[4])
    assert "\nVersion: '" in ready[4]


def test_mariadb_slow_log_one_record_per_query(mariadb: Run, db: Path) -> None:
    log = mariadb.dir / "slow.log"
    stored = ingest(log, db)
    assert_parsed(stored, {"mariadb_slow", "mariadb_log_header"}, share=1.0)
    queries = stored.of("mariadb_slow")
    assert len(queries) == count_lines(log, lambda line: line.startswith("# User@Host: ")) > QUERIES
    multiline = next(row for row in queries if "SELECT * FROM t\nWHERE id = 1;" in row[4])
    assert "# Query_time: " in multiline[4] and "SET timestamp=" in multiline[4]
    assert stored.formats["mariadb_log_header"] == 1


def test_mariadb_slow_log_times(mariadb: Run, db: Path) -> None:
    stored = ingest(mariadb.dir / "slow.log", db)
    assert_times_from_lines(stored.of("mariadb_slow"), mariadb.start, mariadb.end)


def test_mariadb_general_log_one_record_per_command(mariadb: Run, db: Path) -> None:
    log = mariadb.dir / "general.log"
    stored = ingest(log, db)
    assert_parsed(stored, {"mariadb_general", "mariadb_log_header"}, share=1.0)
    command = re.compile(r"(?:\d{6} +\d{1,2}:\d\d:\d\d)?\t+ *\d+ [A-Z]")
    commands = stored.of("mariadb_general")
    assert len(commands) == count_lines(log, lambda line: command.match(line) is not None) > QUERIES
    assert any(row[4] == "SELECT * FROM t\nWHERE id = 1" for row in commands)
    timed = [row for row in commands if re.match(r"\d{6} ", row[6])]
    assert timed, "no command line carried a time"
    assert_times_from_lines(timed, mariadb.start, mariadb.end)


def test_mariadb_general_log_times(mariadb: Run, db: Path) -> None:
    stored = ingest(mariadb.dir / "general.log", db)
    assert_times_from_lines(stored.of("mariadb_general"), mariadb.start, mariadb.end)


@pytest.mark.slow
def test_mariadb_audit_log(mariadb: Run, db: Path) -> None:
    log = mariadb.dir / "audit.log"
    stored = ingest(log, db)
    assert_parsed(stored, {"mariadb_audit"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) > QUERIES
    assert_times_from_lines(stored.rows, mariadb.start, mariadb.end)
    failed = count_lines(log, lambda line: re.search(r",[1-9]\d*$", line) is not None)
    assert stored.levels["error"] == failed >= 2  # the missing table and the refused login
    assert any('"operation":"FAILED_CONNECT"' in row[5] for row in stored.rows)


@pytest.mark.slow
def test_redis_server_log(db: Path) -> None:
    server_binary = program("redis-server")
    cli = program("redis-cli")
    with shared_dir("redis") as root:
        log = root / "redis.log"
        start = now()
        argv = [
            server_binary,
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(root),
            "--logfile",
            str(log),
            "--save",
            "",
            "--loglevel",
            "verbose",
        ]
        with running(argv, cwd=root, port=REDIS_PORT) as server:
            for n in range(40):
                subprocess.run([cli, "-p", str(REDIS_PORT), "SET", f"k{n}", "v"], capture_output=True)
            subprocess.run([cli, "-p", str(REDIS_PORT), "BGSAVE"], capture_output=True)
            wait_for(lambda: "Background saving terminated" in log.read_text(), "the RDB child")
            subprocess.run([cli, "-p", str(REDIS_PORT), "SHUTDOWN", "NOSAVE"], capture_output=True)
            server.wait(15)
        end = now()
        stored = ingest(log, db)
        assert_parsed(stored, {"redis"}, share=1.0)
        assert len(stored.rows) == count_lines(log, bool)
        assert_times_from_lines(stored.rows, start, end)
        marks = {"#": "warning", "*": "notice", "-": "debug", ".": "debug"}
        expected: dict[str, int] = {}
        for line in log.read_text().splitlines():
            level = marks[line.split(" ")[5]]
            expected[level] = expected.get(level, 0) + 1
        assert dict(stored.levels) == expected
        assert any(row[5] and '"role":"C"' in row[5] for row in stored.rows)  # the RDB child's lines


@pytest.mark.slow
def test_postgresql_default_stderr_log(db: Path) -> None:
    postgres = program("postgres")
    initdb = program("initdb")
    user = "postgres" if os.geteuid() == 0 else None
    with shared_dir("postgres") as root:
        env = {**os.environ, "TZ": "UTC"}
        setup = subprocess.run(
            [initdb, "-N", "-A", "trust", "-U", "postgres", "-D", str(root / "data")],
            capture_output=True,
            text=True,
            env=env,
            user=user,
        )
        assert setup.returncode == 0, setup.stderr
        start = now()
        argv = [
            postgres,
            "-D",
            str(root / "data"),
            "-p",
            str(POSTGRES_PORT),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "log_statement=all",
        ]
        with running(argv, cwd=root, log_name="postgresql.log", user=user, stop_signal=2, port=POSTGRES_PORT):
            psql = [program("psql"), "-h", str(root), "-p", str(POSTGRES_PORT), "-U", "postgres"]
            script = "\n".join(f"SELECT {n};" for n in range(QUERIES))
            script += "\nSELECT *\nFROM nosuch\nWHERE id = 1;\nDO $$BEGIN RAISE WARNING 'careful'; END$$;\n"
            subprocess.run(psql, input=script, capture_output=True, text=True)
            subprocess.run([*psql[:-2], "-U", "nobody", "-c", "SELECT 1"], capture_output=True)
        end = now()
        log = root / "postgresql.log"
        stored = ingest(log, db)
        assert_parsed(stored, {"postgresql"}, share=1.0)
        prefix = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC \[\d+\] (\w+):  ")
        reports = count_lines(
            log,
            lambda line: (
                (m := prefix.match(line)) is not None
                and m[1] not in {"DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION"}
            ),
        )
        assert len(stored.rows) == reports > QUERIES
        assert_times_from_lines(stored.rows, start, end)
        assert stored.levels["error"] == count_lines(log, lambda line: " ERROR:  " in line) == 1
        assert stored.levels["fatal"] == count_lines(log, lambda line: " FATAL:  " in line) == 1
        assert stored.levels["warning"] == 1
        error = stored.of("postgresql")[[row[3] for row in stored.rows].index("error")]
        assert error[4].endswith("STATEMENT:  SELECT *\n\tFROM nosuch\n\tWHERE id = 1;")
