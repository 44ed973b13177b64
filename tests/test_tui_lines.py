"""What one log line shows: everything the log line said, the same text a search looks through."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import REPO, run_cli

from logscope.tui.filters import FilterState, text_match
from logscope.tui.log_reader import DISPLAY_SQL, LogReader
from logscope.tui.rendering import display_text, fit, source_labels


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("lines") / "sample.duckdb"
    result = run_cli("ingest", str(REPO / "sample_logs"), "--db", str(db), "--no-default-rules")
    assert result.returncode == 0, result.stderr
    return db


def test_the_sql_display_text_is_the_shown_text_for_every_sample_record(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db), read_only=True)
    rows = con.execute(f"SELECT host, message, fields, format, {DISPLAY_SQL} FROM logs").fetchall()
    con.close()
    assert len(rows) == 1282
    for host, message, fields, fmt, in_sql in rows:
        assert display_text(host, message, fields, fmt) == in_sql


def test_what_the_line_said_is_shown(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db), read_only=True)
    shown = {
        fmt: display_text(host, message, fields, fmt)
        for host, message, fields, fmt in con.execute(
            "SELECT host, message, fields, format FROM logs WHERE id IN"
            " (SELECT min(id) FROM logs WHERE level IS DISTINCT FROM 'debug' GROUP BY format)"
        ).fetchall()
    }
    con.close()
    assert shown["nginx_access"] == (
        "GET / HTTP/1.1 client=198.51.100.14 status=404 bytes=16169"
        ' user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"'
    )
    assert (
        shown["bsd_syslog"] == "web-1 systemd[1]: Started session-2101.scope - Session 2101 of User deploy."
    )
    assert shown["json"] == "order placed service=checkout order_id=93627 amount=204.85 duration_ms=395"


def test_a_search_finds_only_what_is_shown(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db), read_only=True)
    reader = LogReader(con)
    everything = FilterState()
    start = (-(2**62), 0)
    # "level" and "ts" are keys of every JSON line, but no line shows them.
    assert reader.find(everything, text_match('"level"'), *start, True) is None
    assert reader.find(everything, text_match("user_agent=curl"), *start, True) is not None
    assert reader.find(everything, text_match("web-1 sshd"), *start, True) is not None
    con.close()


def test_sources_are_named_by_what_tells_them_apart() -> None:
    labels = source_labels(
        ["/var/log/a/app.log", "/var/log/b/app.log", "/srv/nginx_access.log", "udp://:5514"]
    )
    assert labels == {
        "/var/log/a/app.log": "a/app.log",
        "/var/log/b/app.log": "b/app.log",
        "/srv/nginx_access.log": "nginx_access.log",
        "udp://:5514": ":5514",
    }
    assert fit("nginx_access.log", 10) == "ngin…s.log"
    assert fit("app.log", 10) == "app.log   "
