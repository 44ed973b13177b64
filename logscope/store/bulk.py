"""The DuckDB side of the bulk-import fast path: parse a block in SQL, insert it in one transaction.

A block's rows come from two places: lines the vectorized plan read (`ok` rows of the parsed
temp table) and records the streaming parser made (lines the plan left alone, multiline records).
Both carry the line number (`key`) their record starts at; ids follow that order, exactly as the
streaming path numbers records in the order it writes them.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Protocol

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logscope.record import Checkpoint, Record
from logscope.store.bulk_commits import (
    BULK_MEMORY_LIMIT,
    BULK_THREADS,
    IMPORT_CHECKPOINT_SCALE,
    NO_AUTOMATIC_CHECKPOINT,
    ROW_GROUP_ROWS,
    checkpoint,
    commit_due,
    wal_path,
)
from logscope.store.retention import parse_size
from logscope.store.sql_text import from_microseconds, string_literal
from logscope.store.writer import LOGS_SCHEMA, LogWriter, record_columns, upsert_checkpoints

BLOCK_TABLE = "_logscope_bulk_block"
LEVELS_TABLE = "_logscope_bulk_levels"
FALLBACK_TABLE = "_logscope_bulk_fallback"
SKIP_TABLE = "_logscope_bulk_skip"


class StoredRecords(Sequence[Record]):
    """Records read back from the store, held as the writer's Arrow table (`table`: the columns
    the rule engine reads without building a Record); the Records are made when first used.

    Made by `in_store`, the table is read (every column, in id order) when first used: a
    subscriber that needs only some columns reads them itself (`stored_columns`)."""

    def __init__(self, table: pa.Table | None) -> None:
        self._table = table
        self._records: list[Record] | None = None
        self.con: duckdb.DuckDBPyConnection | None = None
        self.first_id = self.last_id = 0

    @classmethod
    def in_store(cls, con: duckdb.DuckDBPyConnection, first_id: int, last_id: int) -> StoredRecords:
        """The committed records with ids `first_id`..`last_id`, read through `con` when needed."""
        stored = cls(None)
        stored.con, stored.first_id, stored.last_id = con, first_id, last_id
        return stored

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            assert self.con is not None
            where = f"id BETWEEN {int(self.first_id)} AND {int(self.last_id)}"
            self._table = self.con.sql(f"{_STORED_FROM} WHERE {where} ORDER BY id").to_arrow_table()
            self._table = self._table.cast(LOGS_SCHEMA)
        return self._table

    def __len__(self) -> int:
        return self.table.num_rows if self._table is not None else self.last_id - self.first_id + 1

    def __getitem__(self, index):  # type: ignore[override]
        return self.records()[index]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records())

    def records(self) -> list[Record]:
        if self._records is None:
            table = self.table
            columns = [table[name].to_pylist() for name in ("id", "source", "host", "format", "level")]
            columns += [table[name].to_pylist() for name in ("message", "fields", "raw")]
            ts = pc.cast(table["ts"], pa.int64()).to_pylist()
            received = pc.cast(table["received_at"], pa.int64()).to_pylist()
            self._records = [
                Record(
                    at if at != got else None,
                    got,
                    source,
                    host,
                    format_name,
                    level,
                    message,
                    orjson.loads(fields) if fields is not None else None,
                    raw,
                    record_id,
                )
                for at, got, (record_id, source, host, format_name, level, message, fields, raw) in zip(
                    ts, received, zip(*columns, strict=True), strict=True
                )
            ]
        return self._records


# Stored records as the writer wrote them (LOGS_SCHEMA: `fields` as JSON text).
def id_span(records: Sequence[Record]) -> tuple[int, int]:
    """The first and last id of a committed batch (not empty); a block handed on unread
    (`StoredRecords.in_store`) knows them without being read."""
    if isinstance(records, StoredRecords) and records.last_id:
        return records.first_id, records.last_id
    return records[0].id, records[-1].id


_STORED_FROM = (
    "SELECT id, ts, received_at, source, host, format, level, message, fields::VARCHAR AS fields,"
    " raw FROM logs"
)


def stored_records_in_time_order(
    con: duckdb.DuckDBPyConnection,
    first_id: int = 0,
    rows: int = 50_000,
    columns: list[str] | None = None,
    field_keys: Collection[str] | None = None,
) -> Iterator[StoredRecords]:
    """The stored records from id `first_id` on, in event-time order (ties by id), `rows` at a time
    (only `columns`, if given: Records cannot be made from those, only the table read; `fields`
    holding only `field_keys`, if given: see `narrowed_fields`)."""
    select = _STORED_FROM if columns is None else _select(columns, field_keys)
    reader = con.sql(f"{select} WHERE id >= {int(first_id)} ORDER BY ts, id").to_arrow_reader(rows)
    schema = LOGS_SCHEMA if columns is None else _schema(columns)
    for batch in reader:
        yield StoredRecords(pa.Table.from_batches([batch]).cast(schema))


def stored_columns(
    con: duckdb.DuckDBPyConnection,
    first_id: int,
    last_id: int,
    columns: list[str],
    field_keys: Collection[str] | None = None,
) -> pa.Table:
    """`columns` of the stored records with ids `first_id`..`last_id`, in event-time order (ties by
    id), typed as the writer's table (LOGS_SCHEMA); `fields` holding only `field_keys`, if given
    (`narrowed_fields`)."""
    where = f"id BETWEEN {int(first_id)} AND {int(last_id)}"
    wanted = list(dict.fromkeys([*columns, "id", "ts"]))
    # Read in the order stored (a scan), sorted here only where the rows are not in event-time
    # order already: a committed block mostly is, and DuckDB's sort of the wide rows cost twice
    # the scan (docs/benchmarks.md, "Bulk import fast path").
    table = con.sql(f"{_select(wanted, field_keys)} WHERE {where}").to_arrow_table()
    if not _in_time_order(table):
        table = table.take(pc.sort_indices(table, [("ts", "ascending"), ("id", "ascending")]))
    return table.select(columns).cast(_schema(columns))


def _in_time_order(table: pa.Table) -> bool:
    """Whether the rows are sorted by (ts, id): ids ascending and times never going back."""
    if table.num_rows < 2:
        return True
    rows = table.num_rows - 1
    ids, ts = table["id"], pc.cast(table["ts"], pa.int64())
    return bool(
        pc.all(pc.less(ids.slice(0, rows), ids.slice(1))).as_py()
        and pc.all(pc.less_equal(ts.slice(0, rows), ts.slice(1))).as_py()
    )


def stored_column_batches(
    con: duckdb.DuckDBPyConnection, columns: list[str], where: str, rows: int
) -> pa.RecordBatchReader:
    """`columns` of the stored records matching `where` (SQL over `logs`), in no particular
    order, read `rows` at a time as the reader is consumed."""
    return con.sql(f"{_select(columns)} WHERE {where}").to_arrow_reader(rows)


def _select(columns: list[str], field_keys: Collection[str] | None = None) -> str:
    if "fields" not in columns or field_keys is None:
        names = ", ".join("fields::VARCHAR AS fields" if name == "fields" else name for name in columns)
        return f"SELECT {names} FROM logs"
    keys = sorted(field_keys)
    names = ", ".join(narrowed_fields(keys) if name == "fields" else name for name in columns)
    if not keys:
        return f"SELECT {names} FROM logs"
    paths = ", ".join(string_literal("/" + key.replace("~", "~0").replace("/", "~1")) for key in keys)
    return f"SELECT {names} FROM (SELECT *, json_extract(fields, [{paths}]) AS __values FROM logs) logs"


def narrowed_fields(keys: list[str]) -> str:
    """`fields` as JSON text holding only `keys` (those of them a record has, its values as DuckDB
    writes them), from `__values`, their values in the order of `keys` (`json_extract` by a list
    of JSON pointers: one parse a record). Every lookup of one of them by name (`->>`, `->`,
    `json_extract`...) gives what it gives on the whole text, which is several times larger
    (docs/benchmarks.md, "Bulk import fast path")."""
    members = [
        f"CASE WHEN __values[{number}] IS NOT NULL"
        f" THEN {string_literal(orjson.dumps(key).decode() + ':')} || __values[{number}] END"
        for number, key in enumerate(keys, start=1)
    ]
    text = f"'{{' || concat_ws(',', {', '.join(members)}) || '}}'" if members else "'{}'"
    return f"CASE WHEN fields IS NOT NULL THEN {text} END AS fields"


def _schema(columns: list[str]) -> pa.Schema:
    return pa.schema([LOGS_SCHEMA.field(name) for name in columns])


def records_table(keyed: list[tuple[int, Record]]) -> pa.Table:
    """Records the streaming parser made, with the line number each starts at."""
    records = [record for _, record in keyed]
    return pa.table({"key": pa.array([key for key, _ in keyed], pa.int64()), **record_columns(records)})


class BlockPlan(Protocol):
    """What `BulkStore.parse` needs of a parsing plan (logscope/parsing/vectorized/)."""

    name: str

    def level_text_sql(self) -> str | None: ...
    def level_table(self, texts: list[str]) -> pa.Table: ...
    def select_sql(self, block: str, levels: str) -> str: ...


# What a plan's `ok` pass made of a block: the keys of the lines it could not read, and the
# levels table its SQL joins (None if the plan has none).
Parsed = tuple[list[int], pa.Table | None]


class BulkStore:
    """Runs a plan's SQL over a block and writes the block's records with the writer's ids."""

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer
        self.con = writer.con
        self.wal_path = wal_path(self.con)
        self.checkpoint_bytes = IMPORT_CHECKPOINT_SCALE << 24  # set from `wal_autocheckpoint`
        self._passes: list[tuple[str, str]] = []  # (select, format) per parse() of the block
        self._registered: list[str] = []
        self.commit_rows = ROW_GROUP_ROWS  # the least rows a transaction commits (commit_due)
        self.open_from: int | None = None  # the first id of the open transaction, if one is open
        self._spans: list[tuple[int, int]] = []  # (first, last id) of each block written in it
        self._ahead = writer.con.cursor()  # the reader thread's `parse_ahead`
        # Finish whatever result the connection still holds (register() refuses to run otherwise).
        self.con.execute("SELECT 1").fetchall()

    @contextlib.contextmanager
    def import_settings(self, limit: str = BULK_MEMORY_LIMIT, threads: int = BULK_THREADS) -> Iterator[None]:
        """Cap DuckDB's memory (its write path keeps a lot otherwise) and threads while a bulk
        import runs, and turn DuckDB's automatic checkpoint off (the import checkpoints itself:
        `checkpoint_if_due`); the settings before are restored after.

        What the import left in the write-ahead log is checkpointed before, under the cap (see
        `checkpoint`): the first commit after the import (an alert, a marker, a view) would
        otherwise checkpoint it with the memory limit restored, 300-400 MB more for a second
        (docs/benchmarks.md, "Bulk import fast path")."""
        con = self.con
        previous = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'),"
            " current_setting('wal_autocheckpoint')"
        ).fetchall()[0]
        con.execute(f"SET memory_limit = '{limit}'")
        con.execute(f"SET threads = {int(threads)}")
        self.checkpoint_bytes = IMPORT_CHECKPOINT_SCALE * parse_size(previous[2])
        con.execute(f"SET wal_autocheckpoint = '{NO_AUTOMATIC_CHECKPOINT}'")
        try:
            yield
            checkpoint(con)
        finally:
            con.execute(f"SET memory_limit = '{previous[0]}'")
            con.execute(f"SET threads = {int(previous[1])}")
            con.execute(f"SET wal_autocheckpoint = '{previous[2]}'")

    def checkpoint_if_due(self) -> bool:
        """CHECKPOINT (under the import's settings, in this thread, between two blocks) once the
        write-ahead log holds `checkpoint_bytes`; whether it ran. Declined (another connection's
        update is open: see `checkpoint`), it is tried again after the next block."""
        if self.wal_path is None or self.open_from is not None:
            return False
        try:
            size = os.path.getsize(self.wal_path)
        except OSError:
            return False
        return size >= self.checkpoint_bytes and checkpoint(self.con, wait=0.1)

    def parse_ahead(self, block: pa.Table, plan: BlockPlan) -> Parsed:
        """The `ok` pass of `parse`, run by another thread (the reader's, on the block it reads
        ahead) through a connection of its own while this one writes."""
        con, names = self._ahead, (f"{BLOCK_TABLE}_ahead", f"{LEVELS_TABLE}_ahead")
        con.register(names[0], block)
        try:
            return self._ok_pass(con, *names, plan)
        finally:
            for name in names:
                with contextlib.suppress(Exception):
                    con.unregister(name)

    def parse(self, block: pa.Table, plan: BlockPlan, parsed: Parsed | None = None) -> list[int]:
        """Register `block` for `write` as one more pass; the keys of lines its plan could not read
        (`parsed`: as `parse_ahead` found them).

        `plan.select_sql(block_table, levels_table)` gives the plan's rows. Nothing is
        materialized: the `ok` pass computes only what `ok` needs (DuckDB prunes the rest), and
        `write` computes the rows as it inserts them. Call `done` after `write`."""
        con = self.con
        tag = len(self._passes)
        block_name, levels_name = f"{BLOCK_TABLE}_{tag}", f"{LEVELS_TABLE}_{tag}"
        con.register(block_name, block)
        self._registered += [block_name, levels_name]
        if parsed is None:
            parsed = self._ok_pass(con, block_name, levels_name, plan)
        elif parsed[1] is not None:
            con.register(levels_name, parsed[1])
        self._passes.append((plan.select_sql(block_name, levels_name), plan.name))
        return parsed[0]

    @staticmethod
    def _ok_pass(
        con: duckdb.DuckDBPyConnection, block_name: str, levels_name: str, plan: BlockPlan
    ) -> Parsed:
        """Register the block's levels table as `levels_name`; the keys of the lines the plan
        could not read, and that table."""
        levels_sql = plan.level_text_sql()
        levels = None
        if levels_sql is not None:
            texts = con.execute(f"SELECT DISTINCT {levels_sql} FROM {block_name}").fetchall()
            levels = plan.level_table([row[0] for row in texts])
            con.register(levels_name, levels)
        select = plan.select_sql(block_name, levels_name)
        rows = con.execute(f"SELECT key FROM ({select}) WHERE NOT ok ORDER BY key").fetchall()
        return [row[0] for row in rows], levels

    def done(self) -> None:
        """Forget the blocks `parse` registered."""
        for name in self._registered:
            with contextlib.suppress(Exception):
                self.con.unregister(name)
        self._registered, self._passes = [], []

    def commit_if_due(self, final: bool = False, held_bytes: int = 0) -> list[tuple[int, int]]:
        """Commit the open transaction when due (`commit_due`, its rows read from `held_bytes` of
        the file; `final`: in any case); the (first, last) ids of the blocks committed, empty if
        none was."""
        if self.open_from is None:
            return []
        rows = self.writer.next_id - self.open_from
        if not final and not commit_due(rows, self.commit_rows, held_bytes):
            return []
        try:
            self.con.commit()
        except BaseException:
            self.rollback()  # nothing of it is stored: its ids are given again
            raise
        spans, self._spans, self.open_from = self._spans, [], None
        return spans

    def rollback(self) -> None:
        """Roll the open transaction back, and the writer's ids with it."""
        if self.open_from is None:
            return
        with contextlib.suppress(duckdb.TransactionException):  # a failed commit ended it
            self.con.rollback()
        self.writer.rows_written -= self.writer.next_id - self.open_from
        self.writer.next_id = self.open_from
        self._spans, self.open_from = [], None

    def committed_records(self, span: tuple[int, int]) -> StoredRecords:
        """The committed records with ids `span` (first, last), as the streaming path hands them on
        (a record without a time of its own has ts None), read as one Arrow table when first used."""
        return StoredRecords.in_store(self.con.cursor(), *span)

    def write(
        self,
        *,
        source: str,
        received_at: int,
        fallback: list[tuple[int, Record]],
        skip: Iterable[int] = (),
        key_offset: int = 0,
        all_parsed: bool = False,
        checkpoints: list[Checkpoint] | None = None,
    ) -> Counter[str]:
        """Insert the block's rows, and the `checkpoints` that cover them, in the open transaction
        (begun if none is: `commit_if_due` commits it); returns the rows written per format.

        `all_parsed`: every line of the block is an `ok` row, so ids follow the line numbers
        without sorting."""
        skip = list(skip)
        con = self.con
        first_id = self.writer.next_id
        parts = []
        received = from_microseconds(received_at)
        ts = f"coalesce({from_microseconds('ts_us')}, {received})"
        key = f"key + {int(key_offset)}"
        where = "ok" if not skip else f"ok AND {key} NOT IN (SELECT key FROM {SKIP_TABLE})"
        for select, format_name in self._passes:
            parts.append(
                f"SELECT {key} AS key, {ts} AS ts, {received} AS received_at,"
                f" {string_literal(source)} AS source, host, {string_literal(format_name)} AS format,"
                f" level, message, fields, raw FROM ({select})"
                f" WHERE {where}"
            )
        if fallback:
            parts.append(
                "SELECT key, ts, received_at, source, host, format, level, message, fields, raw "
                f"FROM {FALLBACK_TABLE}"
            )
        if self.open_from is None:
            con.begin()
            self.open_from = first_id
        try:
            if skip:
                con.register(SKIP_TABLE, pa.table({"key": pa.array(skip, pa.int64())}))
            if fallback:
                con.register(FALLBACK_TABLE, records_table(fallback))
            formats = self._insert(
                parts, first_id, key_offset, fallback, all_parsed and not fallback and not skip
            )
            upsert_checkpoints(con, checkpoints or [])
        except BaseException:
            self.rollback()
            raise
        finally:
            for name in (SKIP_TABLE, FALLBACK_TABLE):
                with contextlib.suppress(Exception):
                    con.unregister(name)
        written = sum(formats.values())
        self.writer.next_id = first_id + written
        self.writer.rows_written += written
        if written:
            self._spans.append((first_id, first_id + written - 1))
        return formats

    def _insert(
        self,
        parts: list[str],
        first_id: int,
        key_offset: int,
        fallback: list[tuple[int, Record]],
        contiguous: bool,
    ) -> Counter[str]:
        """INSERT the union of `parts` with ids from `first_id` on; the rows per format."""
        if not parts:
            return Counter()
        con = self.con
        union = " UNION ALL ".join(parts)
        ids = (
            f"key - {int(key_offset)} + {first_id}"
            if contiguous and len(self._passes) == 1
            else f"{first_id} - 1 + row_number() OVER (ORDER BY key)"
        )
        count = con.execute(
            f"INSERT INTO logs SELECT {ids}, ts, received_at,"
            f" source, host, format, level, message, fields::JSON, raw FROM ({union})",
        ).fetchall()[0][0]
        if len(self._passes) > 1:
            where = f"id >= {first_id}"
            return Counter(
                dict(con.execute(f"SELECT format, count(*) FROM logs WHERE {where} GROUP BY 1").fetchall())
            )
        # One plan at most: its rows are those the streaming parser did not make.
        formats = Counter(record.format for _, record in fallback)
        if count > len(fallback):
            formats[self._passes[0][1]] += count - len(fallback)
        return formats
