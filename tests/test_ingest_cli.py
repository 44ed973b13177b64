"""`logscope ingest` end to end: the real CLI on real files and stdin, rows checked in DuckDB."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_clean_error, cli_env, query_db, run_cli

UTC = dt.UTC


def test_json_lines_are_stored_with_time_level_message_and_fields(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(
        '{"ts":"2024-05-01T10:00:00.250Z","level":"ERROR","msg":"boom","user":"ann","n":3}\n'
        '{"time":1714557600,"severity":"warn","message":"slow","nested":{"a":[1,2]}}\n'
        '{"@timestamp":"2024-05-01T12:00:00+02:00","lvl":"dbg","event":"tick"}\n'
    )
    result = run_cli("ingest", str(log), "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT id, ts, source, format, level, message, fields, raw FROM logs ORDER BY id")
    assert [row[0] for row in rows] == [1, 2, 3]
    assert rows[0][1] == dt.datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert rows[1][1] == dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert rows[2][1] == dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert {row[2] for row in rows} == {str(log)}
    assert [row[3] for row in rows] == ["json", "json", "json"]
    assert [row[4] for row in rows] == ["error", "warning", "debug"]
    assert [row[5] for row in rows] == ["boom", "slow", "tick"]
    assert json.loads(rows[0][6]) == {"user": "ann", "n": 3}
    assert json.loads(rows[1][6]) == {"nested": {"a": [1, 2]}}
    assert rows[2][6] is None
    assert rows[0][7] == log.read_text().splitlines()[0]
    assert "ingested 3 lines" in result.stderr and "json 3" in result.stderr


def test_logfmt_and_raw_lines_and_receive_time_fallback(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_text(
        'time=2024-05-01T10:00:00Z level=info msg="user logged in" user=bob dur=12ms\n'
        "just some text without structure\n"
        'level=error msg="disk \\"sda\\" full" host=db-1 free=0\n'
    )
    before = dt.datetime.now(UTC)
    result = run_cli("ingest", str(log), "--db", str(db))
    after = dt.datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT ts, received_at, host, format, level, message, fields FROM logs ORDER BY id")
    assert rows[0][0] == dt.datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert (rows[0][3], rows[0][4], rows[0][5]) == ("logfmt", "info", "user logged in")
    assert json.loads(rows[0][6]) == {"user": "bob", "dur": "12ms"}
    assert (rows[1][3], rows[1][4], rows[1][5], rows[1][6]) == (
        "raw",
        None,
        "just some text without structure",
        None,
    )
    # No time in the line: the event time is the receive time.
    assert before <= rows[1][0] == rows[1][1] <= after
    assert (rows[2][2], rows[2][4], rows[2][5]) == ("db-1", "error", 'disk "sda" full')


@pytest.mark.slow
def test_stdin_counts_exactly_for_100k_lines(db: Path) -> None:
    lines = "".join(f"level=info seq={n} msg=hello\n" for n in range(100_000))
    result = run_cli("ingest", "-", "--db", str(db), input=lines)
    assert result.returncode == 0, result.stderr
    count = run_cli(
        "query", "--db", str(db), "select count(*) as n, count(distinct fields->>'seq') from logs"
    )
    assert count.returncode == 0, count.stderr
    assert count.stdout.splitlines() == ["n\tcount(DISTINCT (fields ->> 'seq'))", "100000\t100000"]
    assert query_db(db, "SELECT min(id), max(id), count(DISTINCT id) FROM logs")[0] == (1, 100_000, 100_000)


@pytest.mark.slow
def test_shell_pipe_into_ingest(tmp_path: Path, db: Path) -> None:
    script = (
        f"printf 'a=1 b=2\\nplain\\n' | {sys.executable} -m logscope ingest - --db {db}"
        f" && {sys.executable} -m logscope query --db {db} 'select count(*) from logs'"
    )
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=cli_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "2"


def test_invalid_utf8_and_nul_bytes_are_stored_replaced(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "junk.log"
    log.write_bytes(b"ok line\n\xff\xfe\xfd binary \x00 junk\n\xc3\x28 half\nlast\n")
    result = run_cli("ingest", str(log), "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT raw FROM logs ORDER BY id")
    assert [row[0] for row in rows] == [
        "ok line",
        "\ufffd\ufffd\ufffd binary \ufffd junk",
        "\ufffd( half",
        "last",
    ]


def test_a_5mb_line_is_capped_and_the_next_line_still_arrives(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "huge.log"
    with log.open("wb") as handle:
        handle.write(b"before\n")
        handle.write(b"x" * (5 * 1024 * 1024) + b"\n")
        handle.write(b"after\n")
    result = run_cli("ingest", str(log), "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = query_db(
        db, "SELECT length(raw), fields->>'truncated', fields->>'truncated_bytes', raw FROM logs ORDER BY id"
    )
    assert rows[0][3] == "before"
    assert rows[1][:3] == (1024 * 1024, "true", str(4 * 1024 * 1024))
    assert rows[2][3] == "after"
    assert len(rows) == 3


def test_a_long_run_without_spaces_before_a_pair_is_one_raw_record_read_in_linear_time(
    tmp_path: Path, db: Path
) -> None:
    """Binary junk (a database file in a followed directory) has long runs of key characters that
    end without `=`: logfmt used to search on from every position (hours for this line); the
    timeout guards against that coming back, it measures nothing."""
    log = tmp_path / "junk.log"
    log.write_bytes(b"a" * 600_000 + b"\x00" * 100_000 + b" x=1 y=2\nk=v n=1\n")
    result = run_cli("ingest", str(log), "--db", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT format, length(raw) FROM logs ORDER BY id")
    assert rows == [("raw", 700_008), ("logfmt", 7)]


def test_huge_line_on_stdin_in_small_pieces(db: Path) -> None:
    data = b"first\n" + b"y" * (3 * 1024 * 1024 + 17) + b"\nsecond\n"
    result = run_cli("ingest", "-", "--db", str(db), input=data)
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT length(raw), raw = 'second' FROM logs ORDER BY id")
    assert rows == [(5, False), (1024 * 1024, False), (6, True)]


def test_missing_file_is_one_line_and_others_are_still_ingested(tmp_path: Path, db: Path) -> None:
    good = tmp_path / "good.log"
    good.write_text("a=1 b=2\nc=3 d=4\n")
    missing = tmp_path / "missing.log"
    result = run_cli("ingest", str(missing), str(good), "--db", str(db))
    assert_clean_error(result, 1)
    assert f"logscope: error: {missing}: No such file or directory" in result.stderr.splitlines()
    assert query_db(db, "SELECT count(*) FROM logs")[0][0] == 2


def test_unreadable_file_is_reported(tmp_path: Path, db: Path) -> None:
    locked = tmp_path / "locked.log"
    locked.write_text("secret\n")
    locked.chmod(0)
    result = run_cli(
        "ingest",
        str(locked),
        "--db",
        str(db),
        env=cli_env(),
    )
    if os.geteuid() == 0:  # root reads anything; the check still must not crash
        assert result.returncode == 0
    else:
        assert_clean_error(result, 1)
        assert "Permission denied" in result.stderr


@pytest.mark.slow
def test_gzip_directory_and_glob_sources(tmp_path: Path, db: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "a.log").write_text("k=1 v=a\n")
    with gzip.open(logs / "sub" / "b.log.1.gz", "wt") as handle:
        handle.write("k=2 v=b\nk=3 v=c\n")
    (logs / "c.txt").write_text("k=4 v=d\n")
    assert run_cli("ingest", str(logs), "--db", str(db)).returncode == 0
    assert query_db(db, "SELECT list(fields->>'k' ORDER BY fields->>'k') FROM logs")[0][0] == [
        "1",
        "2",
        "3",
        "4",
    ]
    other = tmp_path / "other.duckdb"
    result = run_cli("ingest", str(logs / "**" / "*.gz"), "--db", str(other))
    assert result.returncode == 0, result.stderr
    assert query_db(other, "SELECT count(*), min(source) FROM logs")[0] == (
        2,
        str(logs / "sub" / "b.log.1.gz"),
    )


def test_a_damaged_file_counts_as_an_error_of_its_source_and_its_lines_stay(tmp_path: Path, db: Path) -> None:
    lines = "".join(f"2026-12-07T03:00:00Z web app[1]: request {n} served\n" for n in range(20_000))
    whole = gzip.compress(lines.encode())
    cut, fine = tmp_path / "cut.log.gz", tmp_path / "fine.log"
    cut.write_bytes(whole[: len(whole) // 2])  # a copy that stopped half-way
    fine.write_text("2026-12-07T03:00:01Z web app[1]: fine\n")
    result = run_cli("ingest", "-q", str(cut), str(fine), "--db", str(db))
    assert f"{cut}: compressed data ends early (truncated file?)" in result.stderr
    stats = query_db(db, "SELECT source, errors, lines > 0 FROM stats ORDER BY source")
    assert stats == [(str(cut), 1, True), (str(fine), 0, True)]
    stored = query_db(db, "SELECT count(*) FROM logs WHERE source = ?", [str(cut)])[0][0]
    assert 0 < stored < 20_000, stored


def test_blank_lines_are_kept_as_raw_records(tmp_path: Path, db: Path) -> None:
    """Decided in docs/formats.md ("Blank lines"): kept, as Vector's file source does."""
    log = tmp_path / "auth.log"
    log.write_text(
        "Nov 20 14:00:35 web-1 sshd[1]: Accepted publickey for a\n\n"
        "Nov 20 14:00:36 web-1 sshd[1]: Accepted publickey for b\n \t\n"
    )
    assert run_cli("ingest", "-q", str(log), "--db", str(db)).returncode == 0
    rows = query_db(db, "SELECT format, raw FROM logs ORDER BY id")
    assert [row[1] for row in rows] == log.read_text().splitlines()
    assert [row[0] for row in rows if row[1].strip() == ""] == ["raw", "raw"]
    assert query_db(db, r"SELECT count(*) FROM logs WHERE NOT regexp_full_match(raw, '\s*')") == [(2,)]


def test_glob_matching_nothing_is_an_error(tmp_path: Path, db: Path) -> None:
    result = run_cli("ingest", str(tmp_path / "*.nothing"), "--db", str(db))
    assert_clean_error(result, 1)
    assert "no files match" in result.stderr


def test_forced_format_keeps_other_lines_raw(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text('a=1 b=2\n{"msg":"j"}\n')
    assert run_cli("ingest", str(log), "--db", str(db), "--format", "json").returncode == 0
    assert query_db(db, "SELECT format FROM logs ORDER BY id") == [("raw",), ("json",)]


def test_unknown_format_is_a_usage_error(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("a\n")
    result = run_cli("ingest", str(log), "--db", str(db), "--format", "qqqq")
    assert_clean_error(result, 2)
    assert result.stderr.splitlines() == [
        "logscope: error: --format: unknown format 'qqqq'; `logscope formats list` names them all"
    ]


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["parse", "--format", "ngnix_acess"], "--format: unknown format 'ngnix_acess'"),
        (["formats", "show", "ngnix_acess"], "formats show: unknown format 'ngnix_acess'"),
    ],
)
def test_a_mistyped_format_gets_the_closest_names(tmp_path: Path, command: list[str], said: str) -> None:
    """One short line with difflib's closest names, not every format's name (there are 100+)."""
    log = tmp_path / "x.log"
    log.write_text("a\n")
    result = run_cli(*command, *([str(log)] if command[0] == "parse" else []))
    assert_clean_error(result, 2)
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"logscope: error: {said} (did you mean nginx_access, "), line
    assert line.endswith("?); `logscope formats list` names them all") and len(line) < 200, line


def test_naive_times_are_read_in_the_tz_option(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "naive.jsonl"
    log.write_text('{"time":"2024-01-15 12:00:00","msg":"x"}\n')
    assert run_cli("ingest", str(log), "--db", str(db), "--tz", "America/New_York").returncode == 0
    assert query_db(db, "SELECT ts FROM logs")[0][0] == dt.datetime(2024, 1, 15, 17, tzinfo=UTC)
    result = run_cli("ingest", str(log), "--db", str(db), "--tz", "Mars/Olympus")
    assert_clean_error(result, 2)


@pytest.mark.slow
def test_default_database_location_follows_xdg_and_env(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x=1 y=2\n")
    data_home = tmp_path / "data"
    assert run_cli("ingest", str(log), env=cli_env(XDG_DATA_HOME=str(data_home))).returncode == 0
    default = data_home / "logscope" / "logscope.duckdb"
    assert query_db(default, "SELECT count(*) FROM logs")[0][0] == 1
    explicit = tmp_path / "explicit.duckdb"
    env = cli_env(XDG_DATA_HOME=str(data_home), LOGSCOPE_DB=str(explicit))
    assert run_cli("ingest", str(log), env=env).returncode == 0
    assert query_db(explicit, "SELECT count(*) FROM logs")[0][0] == 1
    assert query_db(default, "SELECT count(*) FROM logs")[0][0] == 1


@pytest.mark.slow
def test_ids_stay_monotonic_across_runs(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x=1 y=2\nx=2 y=3\n")
    run_cli("ingest", str(log), "--db", str(db))
    run_cli("ingest", "--reread", str(log), "--db", str(db))
    assert query_db(db, "SELECT list(id ORDER BY id) FROM logs")[0][0] == [1, 2, 3, 4]


def test_memory_database_is_allowed(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x=1 y=2\n")
    result = run_cli("ingest", str(log), "--db", ":memory:")
    assert result.returncode == 0, result.stderr
    assert "ingested 1 line from" in result.stderr


def test_quiet_prints_nothing(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x=1 y=2\n")
    result = run_cli("ingest", str(log), "--db", str(db), "--quiet")
    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.slow
def test_progress_bar_is_drawn_on_a_terminal(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("".join(f"level=info seq={n} msg=hello\n" for n in range(200_000)))
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "logscope", "ingest", str(log), "--db", str(db)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env=cli_env(COLUMNS="160"),
    )
    os.close(terminal)
    screen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    assert process.wait(60) == 0
    text = screen.decode("utf-8", "replace")
    assert "lines/s" in text and "ingest" in text
    assert "ingested 200,000 lines" in text
    assert query_db(db, "SELECT count(*) FROM logs")[0][0] == 200_000


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x=1 y=2\n")
    result = run_cli("ingest", str(log), "--db", str(db))
    assert result.stderr.splitlines() == [
        line for line in result.stderr.splitlines() if line.startswith("logscope: ")
    ]


@pytest.mark.slow
def test_ingest_waits_out_a_brief_reader_lock(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x=1 y=2\n")
    assert run_cli("ingest", str(log), "--db", str(db)).returncode == 0
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}, read_only=True);"
            "print('open', flush=True); time.sleep(0.7)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout and reader.stdout.readline() == "open\n"
    result = run_cli("ingest", "--reread", str(log), "--db", str(db))
    reader.wait(10)
    assert result.returncode == 0, result.stderr
    assert query_db(db, "SELECT count(*) FROM logs")[0][0] == 2


@pytest.mark.slow
def test_a_database_held_too_long_is_one_clear_line(tmp_path: Path, db: Path) -> None:
    assert run_cli("ingest", "-", "--db", str(db), input="x=1 y=2\n").returncode == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r});print('open', flush=True); time.sleep(20)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline() == "open\n"
        result = run_cli("ingest", "-", "--db", str(db), input="x=2 y=3\n")
    finally:
        holder.kill()
        holder.wait()
    assert_clean_error(result, 1)
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"{db}: cannot open database" in result.stderr and "lock" in result.stderr


@pytest.mark.slow
def test_follow_stopped_by_sigterm_exits_1_when_a_cmd_source_failed(tmp_path: Path, db: Path) -> None:
    """A failed `cmd:` source ended for good: the run failed, though the file followed went on."""
    from server_helpers import count, wait_until

    from logscope.store.client import service_state

    log = tmp_path / "app.log"
    log.touch()
    errors = tmp_path / "stderr.txt"
    for command, status in (('cmd:sh -c "echo hi; exit 3"', 1), ('cmd:sh -c "echo hi"', 0)):
        db.unlink(missing_ok=True)
        with errors.open("wb") as err:
            argv = ["ingest", "--follow", str(log), command, f"--db={db}", "-q"]
            follow = subprocess.Popen([sys.executable, "-m", "logscope", *argv], env=cli_env(), stderr=err)
        try:
            # Counted through the run's query service (a direct open would race its lock).
            wait_until(lambda: service_state(f"{db}.sock") == "live")
            wait_until(lambda: count(db, "source LIKE 'cmd:%'") == 1)
            # The command's exit is reported right after its last line: the failure is waited for
            # (a fixed 0.5 s let a loaded machine's SIGTERM come first); success prints nothing.
            if status:
                wait_until(lambda: "exited with status" in errors.read_text())
            else:
                time.sleep(0.5)
            follow.terminate()
            follow.wait(timeout=30)
        finally:
            follow.kill()
        stderr = errors.read_text()
        assert follow.returncode == status, stderr
        failed = "logscope: error: cmd:sh -c 'echo hi; exit 3': exited with status 3\n"
        assert stderr == (failed if status else "")
