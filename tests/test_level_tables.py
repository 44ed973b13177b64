"""A plan's level table made from SQL text (a query over files in place) holds the rows of the
Arrow table the bulk import registers (parsing/vectorized/level_tables.py), for each kind of plan."""

from __future__ import annotations

from datetime import UTC

import duckdb
import pytest

from logscope.parsing.registry import builtin_registry
from logscope.parsing.vectorized.json_plan import json_plan_for
from logscope.parsing.vectorized.level_tables import arrow_table, create_table
from logscope.parsing.vectorized.plans import plan_for
from logscope.parsing.vectorized.syslog_plan import syslog_plan_for

REGISTRY = builtin_registry(UTC)
TEXTS = ["", "ERROR", "warn", "it's", "500", "x" * 300, "🙂"]
# Texts one literal a column cannot hold (a NUL, the separator, the NULL mark): VALUES rows then.
TEXT_LISTS = [TEXTS, [*TEXTS, "nul\x00byte"], [*TEXTS, "a\x1fb"], [*TEXTS, "\x1e"]]


def plans() -> dict[str, object]:
    found = {
        "nginx_access": plan_for(REGISTRY.get("nginx_access"), UTC),
        "apache_error": plan_for(REGISTRY.get("apache_error"), UTC),
        "syslog": syslog_plan_for(REGISTRY.get("syslog"), UTC),
        "json": json_plan_for(REGISTRY.get("json"), UTC, [{"level": "info", "msg": "x"}]),
    }
    assert not any(isinstance(plan, str) for plan in found.values()), found
    return found


@pytest.mark.parametrize("texts", TEXT_LISTS)
@pytest.mark.parametrize("name", ["nginx_access", "apache_error", "syslog", "json"])
def test_the_sql_level_table_holds_the_arrow_one_s_rows(name: str, texts: list[str]) -> None:
    plan = plans()[name]
    columns = plan.level_columns(texts)  # type: ignore[attr-defined]
    con = duckdb.connect()
    create_table(con, "from_sql", columns)
    con.register("arrow", arrow_table(columns))
    con.execute("CREATE TABLE from_arrow AS SELECT * FROM arrow")
    described = [row[:2] for row in con.execute("DESCRIBE from_sql").fetchall()]
    assert described == [row[:2] for row in con.execute("DESCRIBE from_arrow").fetchall()]
    rows = con.execute("SELECT * FROM from_sql ORDER BY ALL").fetchall()
    assert rows == con.execute("SELECT * FROM from_arrow ORDER BY ALL").fetchall()
    assert len(rows) == len(columns["text"]) > 0
    assert plan.level_table(texts).num_rows == len(rows)  # type: ignore[attr-defined]
