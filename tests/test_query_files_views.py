"""The views an in-place connection is made with: those the SQL names (`logs` too unless the SQL
names format views and not it), with the same rows whichever are made."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from logscope.parsing.registry import load_registry
from logscope.pipeline.catch_up import _views_key
from logscope.pipeline.in_place import InPlaceQuery
from tests.test_query_files_refused import access_lines, write

COUNT = "SELECT count(*), sum(status) FROM nginx_access WHERE status >= 500"


def views(con) -> set[str]:
    return {
        name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    return write(tmp_path / "access.log", access_lines(2000, "x"))


@pytest.mark.parametrize(
    ("sql", "made"),
    [
        (COUNT, {"nginx_access"}),
        (f"{COUNT} UNION ALL SELECT count(*), 0 FROM logs", {"logs", "nginx_access"}),
        ("SELECT count(*) FROM Logs", {"logs"}),
        ("SELECT 42", {"logs"}),
    ],
)
def test_the_views_made_are_those_the_sql_names(access_log: Path, sql: str, made: set[str]) -> None:
    query = InPlaceQuery([str(access_log)], load_registry(UTC), head_bytes=4096)
    con = query.connect(sql)
    try:
        assert query.files[0].how == "scanned by DuckDB (nginx_access)"
        assert views(con) == made
        assert con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_format_view_alone_gives_the_rows_it_gives_beside_logs(access_log: Path) -> None:
    answers = []
    for sql in (COUNT, None):
        query = InPlaceQuery([str(access_log)], load_registry(UTC), head_bytes=4096)
        con = query.connect(sql)
        answers.append(con.execute(COUNT).fetchall())
        con.close()
    assert answers[0] == answers[1] == [(500, 500 * 500)]


def test_the_tail_s_connection_key_tells_whether_logs_is_made() -> None:
    names = {"nginx_access", "json"}
    assert _views_key(COUNT, names, False) == "nginx_access"
    assert _views_key(f"{COUNT} UNION ALL SELECT 1 FROM logs", names, True) == "logs,nginx_access with ids"
    assert _views_key("SELECT 1", names, False) == ""
