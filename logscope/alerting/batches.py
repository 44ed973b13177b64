"""Batches as the engine takes them: their span of event time, the store writer's Arrow table
of them, and batches that queued up together seen as one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from logscope.record import Record


def span(records: Sequence[Record], table: pa.Table | None) -> tuple[int, int]:
    """The earliest and latest event time of a batch (µs), from its table when it has one."""
    if table is not None and "ts" in table.column_names:
        ts = pc.cast(table["ts"], pa.int64())
        return pc.min(ts).as_py(), pc.max(ts).as_py()
    times = [record.event_time() for record in records]
    return min(times), max(times)


def same_records(table: pa.Table, records: Sequence[Record]) -> bool:
    """Whether `table` holds exactly these records (same count, same first and last id)."""
    if table.num_rows != len(records):
        return False
    if getattr(records, "table", None) is table:
        return True
    ids = table["id"]
    return ids[0].as_py() == records[0].id and ids[-1].as_py() == records[-1].id


def concat(tables: list[pa.Table]) -> pa.Table:
    """Tables of batches as one. Where their columns differ (records read back from the store
    carry only the columns the rules read, a writer's table every column: the last batch caught
    up on and the first live one, queued together), the columns they all have."""
    if all(table.schema.equals(tables[0].schema) for table in tables):
        return pa.concat_tables(tables)
    names = [name for name in tables[0].column_names if all(name in table.column_names for table in tables)]
    return pa.concat_tables([table.select(names) for table in tables])


class Joined(Sequence[Record]):
    """Batches that queued up together, as one sequence; nothing is copied until it is read."""

    def __init__(self, parts: list[Sequence[Record]]) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def __iter__(self) -> Iterator[Record]:
        for part in self.parts:
            yield from part

    def __getitem__(self, index):  # type: ignore[override]
        return list(self)[index]
