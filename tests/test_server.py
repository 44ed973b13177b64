"""The query service: `logscope query` while another process holds the database, same answers after."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import assert_clean_error, cli_env, run_cli
from server_helpers import CLI, LiveIngest, count, json_line, wait_until

from logscope.errors import LogscopeError
from logscope.store.client import QueryClient, connect_if_served


@pytest.mark.slow
def test_query_while_lines_keep_arriving_then_same_answer_from_the_file(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    written = 0
    with LiveIngest(db, log) as live:
        stop_writing = threading.Event()

        def produce() -> None:
            nonlocal written
            while not stop_writing.is_set():
                live.append("".join(json_line(f"2026-01-01T00:00:{n % 60:02d}Z", f"m{n}") for n in range(20)))
                written += 20
                time.sleep(0.05)

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            wait_until(lambda: count(db) > 0)  # the first lines are in (a loaded machine is slow)
            # Through the socket (the file is held by the ingest process), until the count has grown:
            # a loaded machine can go longer than the 0.9 s of four looks without a commit. An
            # ingest that never commits while following still fails, after 30 s.
            seen = [count(db)]
            deadline = time.monotonic() + 30
            while len(seen) < 4 or seen[-1] == seen[0]:
                assert time.monotonic() < deadline, f"the count never grew while lines arrived: {seen}"
                time.sleep(0.3)
                seen.append(count(db))
        finally:
            stop_writing.set()
            producer.join()
        assert seen == sorted(seen) and seen[-1] > seen[0] > 0, seen  # current counts, growing
        assert seen[-1] <= written
        wait_until(lambda: count(db) == written)
        sql = "SELECT level, count(*) AS n, min(ts) AS first, max(message) AS last FROM logs GROUP BY ALL"
        formats = ("tsv", "csv", "json", "jsonl", "markdown")
        live_answers = {fmt: run_cli("query", "--db", str(db), "--format", fmt, sql) for fmt in formats}
        assert connect_if_served(str(db)) is not None
        live.stop()
    assert not Path(str(db) + ".sock").exists(), "the socket is removed on exit"
    for fmt, answer in live_answers.items():
        from_file = run_cli("query", "--db", str(db), "--format", fmt, sql)
        assert answer.returncode == from_file.returncode == 0, answer.stderr
        assert answer.stdout == from_file.stdout, fmt
    assert json.loads(live_answers["json"].stdout)[0]["n"] == written


ERRORS = [
    "SELEC 1",
    "SELECT * FROM nosuch",
    "SELECT 'x'::INT",
    "INSERT INTO logs SELECT * FROM logs",
    "UPDATE logs SET message = 'x'",
    "WITH x AS (DELETE FROM logs RETURNING *) SELECT count(*) FROM x",
]


@pytest.mark.slow
def test_same_errors_and_values_through_the_socket_and_from_the_file(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(json_line("2026-01-01T00:00:00Z", "one") + "not json at all\n")
    rich_sql = (
        "SELECT id, ts, fields, raw, uuid '5d5b1a3e-0000-4000-8000-000000000001' AS u,"
        " INTERVAL 90 MINUTE AS i, 1.50::DECIMAL(9,2) AS d, [1, 2] AS l, {'a': 1} AS s,"
        " 170141183460469231731687303715884105727::HUGEINT AS h, 'x'::BLOB AS b FROM logs ORDER BY id"
    )
    with LiveIngest(db, log) as live:
        wait_until(lambda: count(db) == 2)
        live_errors = [run_cli("query", "--db", str(db), sql) for sql in ERRORS]
        live_rich = run_cli("query", "--db", str(db), "--format", "jsonl", rich_sql)
        live_dropped = run_cli("query", "--db", str(db), "SELECT 1; DROP TABLE logs")
        live.stop()
    assert count(db) == 2, "no statement changed the data"
    for sql, live_result in zip(ERRORS, live_errors, strict=True):
        direct = run_cli("query", "--db", str(db), sql)
        assert_clean_error(live_result, 1)
        assert live_result.stderr == direct.stderr, sql
    # Statements of a kind the service never runs are refused before anything runs (the direct
    # path refuses them too, with DuckDB's read-only error).
    assert_clean_error(live_dropped, 1)
    assert 'statement of type "DROP" is not allowed through the query service' in live_dropped.stderr
    assert_clean_error(run_cli("query", "--db", str(db), "SELECT 1; DROP TABLE logs"), 1)
    assert live_rich.stdout == run_cli("query", "--db", str(db), "--format", "jsonl", rich_sql).stdout


@pytest.mark.slow
def test_statements_that_would_change_the_writer_are_refused(tmp_path: Path, db: Path) -> None:
    with LiveIngest(db, tmp_path / "empty.log"):
        for sql in ("SET threads = 1", "BEGIN TRANSACTION", "ATTACH ':memory:' AS other", "PRAGMA threads=1"):
            result = run_cli("query", "--db", str(db), sql)
            assert_clean_error(result, 1)
            assert "PID" in result.stderr and result.stderr[-1] == "\n" and result.stderr.count("\n") == 1
        allowed = run_cli("query", "--db", str(db), "--csv", "SET SESSION TimeZone = 'UTC'; SELECT 42 AS x")
        assert allowed.stdout.splitlines() == ["x", "42"], allowed.stderr


@pytest.mark.slow
def test_large_results_stream(tmp_path: Path, db: Path) -> None:
    with LiveIngest(db, tmp_path / "empty.log"):
        result = run_cli("query", "--db", str(db), "--format", "tsv", "SELECT range AS n FROM range(120000)")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 120_001 and lines[1] == "0" and lines[-1] == "119999"


@pytest.mark.slow
def test_ctrl_c_cancels_the_query_and_the_server_keeps_serving(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    with LiveIngest(db, log) as live:
        slow = subprocess.Popen(
            [
                *CLI,
                "query",
                "--db",
                str(db),
                "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3",
            ],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_until(lambda: QueryClient(str(live.socket)).call("status")["queries_running"] >= 1)
        slow.send_signal(2)  # SIGINT, as Ctrl-C
        _, stderr = slow.communicate(timeout=30)
        assert slow.returncode == 130 and b"Traceback" not in stderr
        wait_until(lambda: QueryClient(str(live.socket)).call("status")["queries_running"] == 0, timeout=15)
        live.append(json_line("2026-01-01T00:00:00Z", "after cancel"))
        wait_until(lambda: count(db) == 1)
        assert live.process.poll() is None, "the holder is still running"


def _nobody_connects(path: Path) -> subprocess.CompletedProcess[str]:
    """Connect to the socket as user `nobody` and report what happened, in a plain Python."""
    script = (
        "import socket, struct, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({str(path)!r})\n"
        "except OSError as e:\n"
        "    print('refused', e.errno); sys.exit(0)\n"
        'body = b\'{"op":"query","sql":"SELECT count(*) FROM logs"}\'\n'
        "try:\n"
        "    s.sendall(b'J' + struct.pack('>I', len(body)) + body)\n"
        "except OSError:\n"
        "    pass  # the server may have answered and closed already\n"
        "data = s.recv(65536)\n"
        "print('answer', data[5:].decode(errors='replace'))\n"
    )

    def become_nobody() -> None:
        os.setgid(65534)
        os.setuid(65534)

    return subprocess.run(
        ["/usr/bin/python3", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=become_nobody,
    )


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"), reason="needs root to run as nobody"
)
@pytest.mark.slow
def test_another_user_cannot_connect_even_when_the_socket_mode_is_wrong(tmp_path: Path) -> None:
    shared = Path(os.environ.get("TMPDIR", "/tmp")) / f"logscope-perm-{os.getpid()}"
    shared.mkdir(mode=0o755)
    try:
        db = shared / "test.duckdb"
        with LiveIngest(db, shared / "app.log") as live:
            assert stat.S_IMODE(os.stat(live.socket).st_mode) == 0o600
            refused = _nobody_connects(live.socket)
            assert refused.stdout.startswith("refused 13"), refused  # EACCES from the 0600 mode
            os.chmod(live.socket, 0o666)  # wrong permissions: the server still checks who is calling
            answer = _nobody_connects(live.socket)
            assert "permission denied for uid 65534" in answer.stdout, answer
            assert "count" not in answer.stdout
            assert count(db) == 0, "the owner still gets answers"
    finally:
        for child in shared.iterdir():
            child.unlink()
        shared.rmdir()


@pytest.mark.slow
def test_stale_socket_is_detected_and_cleaned_up(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(json_line("2026-01-01T00:00:00Z", "one"))
    with LiveIngest(db, log) as live:
        wait_until(lambda: count(db) == 1)
        live.kill()  # a crash: nothing removes the socket
    sock = Path(str(db) + ".sock")
    assert sock.exists()
    assert count(db) == 1  # the file is free: read directly, and the dead socket is removed
    assert not sock.exists()
    # A stale socket also does not stop the next run from serving.
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(sock))
    leftover.close()
    with LiveIngest(db, log) as live:
        assert connect_if_served(str(db)) is not None
        assert count(db) == 1
        live.stop()
    assert not sock.exists()


def test_something_else_at_the_socket_path_is_left_alone(tmp_path: Path, db: Path) -> None:
    Path(str(db) + ".sock").write_text("not a socket")
    result = run_cli("ingest", "--db", str(db), "-", input="one line\n")
    assert_clean_error(result, 1)
    assert "is not a socket" in result.stderr
    assert Path(str(db) + ".sock").read_text() == "not a socket"


def test_in_process_server_refuses_nothing_it_should_allow(tmp_path: Path) -> None:
    """The service answers read-only work done on its own cursor, in UTC, with lossless types."""
    from logscope.store.server import QueryServer

    path = tmp_path / "x.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(5)")
    with QueryServer(con, str(path)), QueryClient(str(path) + ".sock") as client:
        result = client.query("SELECT current_setting('TimeZone') AS tz, sum(i) AS total FROM t")
        assert result.columns == ["tz", "total"]
        assert list(result.rows()) == [("UTC", 10)]
    assert not Path(str(path) + ".sock").exists()
    con.close()


@pytest.mark.slow
def test_a_database_path_longer_than_a_socket_address_still_serves(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    db = deep / "test.duckdb"
    assert len(str(db) + ".sock") > 108  # more than sun_path holds
    log = deep / "app.jsonl"
    log.write_text(json_line("2026-01-01T00:00:00Z", "one"))
    with LiveIngest(db, log) as live:
        wait_until(lambda: count(db) == 1)
        assert connect_if_served(str(db)) is not None
        live.stop()
    assert not Path(str(db) + ".sock").exists()


@pytest.mark.slow
def test_garbage_on_the_socket_ends_only_that_connection(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(json_line("2026-01-01T00:00:00Z", "one"))
    with LiveIngest(db, log) as live:
        wait_until(lambda: count(db) == 1)
        for junk in (
            b"hello\n",
            b"J\xff\xff\xff\xff",
            b"J\x00\x00\x00\x05[1,2]",
            b'J\x00\x00\x00\x0b{"op":"no"}',
        ):
            raw = socket.socket(socket.AF_UNIX)
            raw.connect(str(live.socket))
            raw.sendall(junk)
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(10)
            with contextlib.suppress(ConnectionResetError):
                while raw.recv(65536):
                    pass  # the server answers (an error) or just closes; either way it ends
            raw.close()
        with pytest.raises(LogscopeError, match="query service: TypeError"):
            QueryClient(str(live.socket)).call("vacuum", retain_s="not a number")
        assert count(db) == 1 and live.process.poll() is None
        stderr = live.stop()
    assert "Traceback" not in stderr
