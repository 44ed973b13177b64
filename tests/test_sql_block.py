"""The regex plans' SQL run in the bulk reader thread (parsing/vectorized/sql_block.py) gives the
rows the store's connection gives for the same block, with the plan's own `rejected`."""

from __future__ import annotations

import threading
from datetime import UTC
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from logscope.parsing.loader import builtin_files, definitions_in
from logscope.parsing.registry import builtin_registry
from logscope.parsing.vectorized.plans import RegexPlan, plan_for
from logscope.parsing.vectorized.sql_block import ROW_COLUMNS, SqlBlockPlan
from logscope.pipeline.bulk import BulkImporter
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

DEFINITIONS = definitions_in(builtin_files())
# Lines of other formats, broken and odd lines: the plan must say not `ok` (or rejected) on them.
ODD_LINES = [
    "",
    "just some text",
    '{"msg": "json"}',
    "2024-01-02 03:04:05,678 ERROR [main] com.example.App: boom",
    "\tat com.example.App.main(App.java:10)",
    "bad \ufffd utf8 and a \x00 NUL",
    '10.0.0.1 - - [31/Feb/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 7 "-" "curl"',
    '10.0.0.1 - - [26/Nov/2026:02:00:00 +05:30] "get / HTTP/1.1" 200 7 "-" "curl\u00a0x"',
]


def _nginx_line(index: int, status: int = 200) -> str:
    when = f"26/Nov/2026:02:{index // 60 % 60:02d}:{index % 60:02d} +0000"
    request = f'"GET /item/{index} HTTP/1.1" {status} {index * 7}'
    return f'10.0.0.{index % 250} - - [{when}] {request} "-" "curl/8.5.0"'


def _store_rows(plan: RegexPlan, lines: list[str]) -> tuple[pa.Table, list[bool]]:
    """What the store's connection computed before: the plan's SQL over the prepared block."""
    block = plan.prepare_lines(lines)
    rejected = plan.rejected(block).to_pylist()
    block = block.append_column("key", pa.array(range(len(lines)), pa.int64()))
    con = duckdb.connect()
    con.register("block", block)
    texts = con.execute(f"SELECT DISTINCT {plan.level_text_sql()} FROM block").fetchall()
    con.register("levels", plan.level_table([row[0] for row in texts]))
    select = plan.select_sql("block", "levels")
    rows = con.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM ({select}) ORDER BY key").to_arrow_table()
    con.close()
    return rows, rejected


def _planned() -> list[tuple[str, RegexPlan, list[str]]]:
    registry = builtin_registry(UTC)
    cases = []
    for definition in DEFINITIONS:
        plan = plan_for(registry.get(definition.name), UTC)
        if isinstance(plan, RegexPlan):
            samples = [line for sample in definition.samples for line in sample.lines]
            cases.append((definition.name, plan, samples * 2 + ODD_LINES))
    return cases


@pytest.mark.parametrize(
    ("name", "plan", "lines"), _planned(), ids=lambda value: value if isinstance(value, str) else ""
)
def test_rows_equal_the_store_connections(name: str, plan: RegexPlan, lines: list[str]) -> None:
    expected, rejected = _store_rows(plan, lines)
    got = SqlBlockPlan(plan).prepare_lines(lines)
    assert got.select(list(ROW_COLUMNS)).to_pylist() == expected.to_pylist(), name
    assert got.column("rejected").to_pylist() == rejected, name


def test_threads_have_their_own_connections() -> None:
    """The reader thread and the importing thread (a chained format's rejected lines) parse at
    once, each in its own connection, with the same rows."""
    plan = plan_for(builtin_registry(UTC).get("nginx_access"), UTC)
    assert isinstance(plan, RegexPlan)
    lines = [_nginx_line(i, 200 + i % 300) for i in range(5000)] + ODD_LINES
    block_plan = SqlBlockPlan(plan)
    expected = block_plan.prepare_lines(lines).to_pylist()
    results: list[list[dict]] = []
    threads = [
        threading.Thread(target=lambda: results.append(block_plan.prepare_lines(lines).to_pylist()))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 3
    assert sum(row["ok"] for row in expected) == 5000  # none of the odd lines is `ok`
    assert sum(row["rejected"] for row in expected) >= 3  # empty, plain text and JSON: other formats


def test_bulk_import_parses_in_the_reader_thread(tmp_path: Path) -> None:
    """A nginx file imported through the SQL block plan: every line stored once, ids in line order."""
    lines = [_nginx_line(i) for i in range(3000)]
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    con = open_for_writing(str(tmp_path / "db.duckdb"))
    importer = BulkImporter(LogWriter(con), builtin_registry(UTC))
    result = importer.import_file(str(path), block_bytes=64 * 1024)
    stored = con.execute("SELECT count(*), count(DISTINCT raw), min(id), max(id) FROM logs").fetchall()[0]
    con.close()
    assert result.plan == "nginx_access"
    assert result.fast_records == 3000 - 64  # all but the lines sampled for detection
    assert stored == (3000, 3000, 1, 3000)
