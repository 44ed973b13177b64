"""Write records to DuckDB in batches, as Arrow tables, one transaction per batch."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import orjson
import pyarrow as pa

from logscope.record import Checkpoint, Record
from logscope.store.replace import replace_rows

TIMESTAMP = pa.timestamp("us", tz="UTC")
# The `logs` table's columns as Arrow, `fields` as JSON text.
LOGS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ts", TIMESTAMP),
        ("received_at", TIMESTAMP),
        ("source", pa.string()),
        ("host", pa.string()),
        ("format", pa.string()),
        ("level", pa.string()),
        ("message", pa.string()),
        ("fields", pa.string()),
        ("raw", pa.string()),
    ]
)

_INSERT = """
INSERT INTO logs
SELECT id, ts, received_at, source, host, format, level, message, fields::JSON, raw
FROM _logscope_batch
"""

# A checkpoint is replaced by a DELETE and an INSERT, never updated: an UPDATE in a commit makes
# DuckDB refuse that commit's automatic checkpoint while any other transaction (the pattern
# miner's, the rules' reads) is open, and the write-ahead log grew to 130 MB beside a bulk import
# (store/replace.py). A follower commits one or two checkpoints a time: by key, statement by
# statement, costs less than through a registered table.
_DELETE_CHECKPOINT = "DELETE FROM checkpoints WHERE key = ?"
_INSERT_CHECKPOINT = "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, now())"
_CHECKPOINT_COLUMNS = 'key, dev, inode, fingerprint, "offset", now()'
FEW_CHECKPOINTS = 4


def _dump_fields(fields: dict | None) -> str | None:
    if not fields:
        return None
    return orjson.dumps(fields, default=str).decode()


class LogWriter:
    """Owns the write side of one connection: assigns ids and inserts batches atomically."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.next_id = con.execute("SELECT coalesce(max(id), 0) + 1 FROM logs").fetchall()[0][0]
        self.rows_written = 0
        # The Arrow table of the latest batch written (the rule engine reuses its columns).
        self.last_table: pa.Table | None = None

    def write(self, records: list[Record], checkpoints: Iterable[Checkpoint] = ()) -> None:
        """Insert the records and the checkpoints that cover them in one transaction."""
        checkpoints = list(checkpoints)
        if not records and not checkpoints:
            return
        first_id = self.next_id
        for offset, record in enumerate(records):
            record.id = first_id + offset
        con = self.con
        con.begin()
        try:
            if records:
                self.last_table = _to_arrow(records)
                con.register("_logscope_batch", self.last_table)
                con.execute(_INSERT)
                con.unregister("_logscope_batch")
            upsert_checkpoints(con, checkpoints)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        self.next_id = first_id + len(records)
        self.rows_written += len(records)


def _to_arrow(records: list[Record]) -> pa.Table:
    return pa.table({"id": pa.array([r.id for r in records], pa.int64()), **record_columns(records)})


def record_columns(records: list[Record]) -> dict[str, pa.Array]:
    """The `logs` columns after `id`, as Arrow arrays (a record without a time has the time it
    was received)."""
    return {
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


def upsert_checkpoints(con: duckdb.DuckDBPyConnection, checkpoints: list[Checkpoint]) -> None:
    """Store the checkpoints (in the caller's transaction, with the rows they cover)."""
    if 0 < len(checkpoints) <= FEW_CHECKPOINTS:
        for point in checkpoints:
            identity = [point.dev, point.inode, point.fingerprint, point.offset]
            con.execute(_DELETE_CHECKPOINT, [point.key])
            con.execute(_INSERT_CHECKPOINT, [point.key, *identity])
    elif checkpoints:
        con.register("_logscope_checkpoints", _checkpoints_to_arrow(checkpoints))
        replace_rows(con, "checkpoints", "_logscope_checkpoints", "key", _CHECKPOINT_COLUMNS)
        con.unregister("_logscope_checkpoints")


def _checkpoints_to_arrow(checkpoints: list[Checkpoint]) -> pa.Table:
    return pa.table(
        {
            "key": [c.key for c in checkpoints],
            "dev": pa.array([c.dev for c in checkpoints], pa.int64()),
            "inode": pa.array([c.inode for c in checkpoints], pa.int64()),
            "fingerprint": [c.fingerprint for c in checkpoints],
            "offset": pa.array([c.offset for c in checkpoints], pa.int64()),
        }
    )
