"""The DuckDB side of the bulk-import fast path: parse a block in SQL, insert it in one transaction.

A block's rows come from two places: lines the vectorized plan read (`ok` rows of the parsed
temp table) and records the streaming parser made (lines the plan left alone, multiline records).
Both carry the line number (`key`) their record starts at; ids follow that order, exactly as the
streaming path numbers records in the order it writes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import orjson
import pyarrow as pa

from logscope.record import Record
from logscope.store.writer import TIMESTAMP, LogWriter

BLOCK_TABLE = "_logscope_bulk_block"
LEVELS_TABLE = "_logscope_bulk_levels"
FALLBACK_TABLE = "_logscope_bulk_fallback"
SKIP_TABLE = "_logscope_bulk_skip"
# DuckDB's memory limit during a bulk import: without it, writing a million wide rows peaks near
# 800 MB (buffers DuckDB frees only at its limit); with it, near 450 MB (docs/benchmarks.md).
BULK_MEMORY_LIMIT = "256MB"

# µs since the epoch -> TIMESTAMPTZ, exactly and whatever the session time zone.
_FROM_US = "(to_timestamp({us} // 1000000) + to_microseconds({us} % 1000000))"


def _dump_fields(fields: dict | None) -> str | None:
    if not fields:
        return None
    return orjson.dumps(fields, default=str).decode()


def records_table(keyed: list[tuple[int, Record]]) -> pa.Table:
    """Records the streaming parser made, with the line number each starts at."""
    records = [record for _, record in keyed]
    return pa.table(
        {
            "key": pa.array([key for key, _ in keyed], pa.int64()),
            "ts": pa.array([r.ts if r.ts is not None else r.received_at for r in records], TIMESTAMP),
            "received_at": pa.array([r.received_at for r in records], TIMESTAMP),
            "source": pa.array([r.source for r in records], pa.string()),
            "host": pa.array([r.host for r in records], pa.string()),
            "format": pa.array([r.format for r in records], pa.string()),
            "level": pa.array([r.level for r in records], pa.string()),
            "message": pa.array([r.message for r in records], pa.string()),
            "fields": pa.array([_dump_fields(r.fields) for r in records], pa.string()),
            "raw": pa.array([r.raw for r in records], pa.string()),
        }
    )


class BulkStore:
    """Runs a plan's SQL over a block and writes the block's records with the writer's ids."""

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer
        self.con = writer.con
        self._select: str | None = None
        # Finish whatever result the connection still holds (register() refuses to run otherwise).
        self.con.execute("SELECT 1").fetchall()

    @contextlib.contextmanager
    def memory_limited(self, limit: str = BULK_MEMORY_LIMIT) -> Iterator[None]:
        """Cap DuckDB's memory while a bulk import runs (its write path keeps a lot otherwise)."""
        con = self.con
        previous = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        con.execute(f"SET memory_limit = '{limit}'")
        try:
            yield
        finally:
            con.execute(f"SET memory_limit = '{previous}'")

    def parse(self, block: pa.Table, levels_sql: str, level_table, select_sql: str) -> list[int]:
        """Register `block` for `write`; the keys of lines the plan could not read.

        Nothing is materialized: this pass computes only what `ok` needs (DuckDB prunes the
        rest), and `write` computes the rows as it inserts them. Call `done` after `write`."""
        con = self.con
        con.register(BLOCK_TABLE, block)
        self._select = select_sql
        texts = [row[0] for row in con.execute(f"SELECT DISTINCT {levels_sql} FROM {BLOCK_TABLE}").fetchall()]
        con.register(LEVELS_TABLE, level_table(texts))
        rows = con.execute(f"SELECT key FROM ({select_sql}) WHERE NOT ok ORDER BY key").fetchall()
        return [row[0] for row in rows]

    def done(self) -> None:
        """Forget the block `parse` registered."""
        for name in (BLOCK_TABLE, LEVELS_TABLE):
            with contextlib.suppress(Exception):
                self.con.unregister(name)
        self._select = None

    def write(
        self,
        *,
        parsed: bool,
        format_name: str,
        source: str,
        received_at: int,
        fallback: list[tuple[int, Record]],
        skip: Iterable[int] = (),
        key_offset: int = 0,
        all_parsed: bool = False,
    ) -> int:
        """Insert the block's rows in one transaction; returns how many the plan read.

        `all_parsed`: every line of the block is an `ok` row, so ids follow the line numbers
        without sorting."""
        skip = list(skip)
        con = self.con
        first_id = self.writer.next_id
        parts = []
        if parsed:
            received = _FROM_US.format(us=received_at)
            ts = f"coalesce({_FROM_US.format(us='ts_us')}, {received})"
            key = f"key + {int(key_offset)}"
            where = "ok" if not skip else f"ok AND {key} NOT IN (SELECT key FROM {SKIP_TABLE})"
            parts.append(
                f"SELECT {key} AS key, {ts} AS ts, {received} AS received_at, ? AS source, host, "
                f"? AS format, level, message, fields, raw FROM ({self._select}) WHERE {where}"
            )
        if fallback:
            parts.append(
                "SELECT key, ts, received_at, source, host, format, level, message, fields, raw "
                f"FROM {FALLBACK_TABLE}"
            )
        if not parts:
            return 0
        parameters = [source, format_name] if parsed else []
        con.begin()
        try:
            if skip:
                con.register(SKIP_TABLE, pa.table({"key": pa.array(skip, pa.int64())}))
            if fallback:
                con.register(FALLBACK_TABLE, records_table(fallback))
            union = " UNION ALL ".join(parts)
            contiguous = all_parsed and parsed and not fallback and not skip
            ids = (
                f"key - {int(key_offset)} + {first_id}"
                if contiguous
                else f"{first_id} - 1 + row_number() OVER (ORDER BY key)"
            )
            count = con.execute(
                f"INSERT INTO logs SELECT {ids}, ts, received_at,"
                f" source, host, format, level, message, fields::JSON, raw FROM ({union})",
                parameters,
            ).fetchall()
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            for name in (SKIP_TABLE, FALLBACK_TABLE):
                with contextlib.suppress(Exception):
                    con.unregister(name)
        written = int(count[0][0]) if count else 0
        self.writer.next_id = first_id + written
        self.writer.rows_written += written
        return written - len(fallback)
