"""Fixed data and helpers for the TUI tests (no tests here): real DuckDB, real pipeline."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb

from logscope.record import Record
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

START_US = 1_795_615_200_000_000  # 2026-11-25T14:00:00Z
SIZE = (120, 32)

LEVEL_CYCLE = ("info", "debug", "info", "warning", "info", "error", None, "info")


def record(index: int, source: str, level: str | None, message: str, fields: dict | None = None) -> Record:
    ts = START_US + index * 1_000_000
    return Record(
        ts=ts,
        received_at=ts,
        source=source,
        host="web-1",
        format="json" if fields else "logfmt",
        level=level,
        message=message,
        fields=fields,
        raw=message if not fields else f'{{"msg": "{message}", "user": "{fields.get("user", "")}"}}',
    )


def fixed_records(count: int = 120) -> list[Record]:
    """`count` records, one a second, over three sources, with a repeating level pattern."""
    records = []
    for index in range(count):
        level = LEVEL_CYCLE[index % len(LEVEL_CYCLE)]
        if index % 3 == 0:
            source, message, fields = "/var/log/api.log", f"request {index} path=/api/items status=200", None
        elif index % 3 == 1:
            source = "/var/log/worker.jsonl"
            message = f"job {index} done"
            fields = {"job": index, "user": "alice" if index % 2 else "bob", "duration_ms": index * 7}
        else:
            source, message, fields = "stdin", f"user=bob action=login attempt={index}", None
        if level == "error":
            message = f"payment failed order={index} reason=timeout"
        records.append(record(index, source, level, message, fields))
    return records


def make_db(path: Path | str, count: int = 120) -> tuple[duckdb.DuckDBPyConnection, LogWriter]:
    con = open_for_writing(str(path))
    writer = LogWriter(con)
    writer.write(fixed_records(count))
    return con, writer


async def settle(pilot) -> None:
    """Let workers (filter loads, searches, queries) finish and their results reach the screen.

    A result can start another worker (a search waiting for a filter), so repeat until none runs."""
    for _ in range(100):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            return


def plain(renderable, width: int = 60) -> str:
    """A Rich renderable (an option's prompt) as the text it shows."""
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
