"""The patterns stage: mines the records stored since it last ran, in id order, and stores their
patterns (store/patterns.py). `ingest` and `tail` run it beside the writer (background.py), woken
after each committed batch; `logscope patterns --update` calls `catch_up` once. Both read the
stored rows, so the streaming and the bulk import paths give the same patterns, and a restarted
stage goes on with the same ids."""

from __future__ import annotations

import pyarrow as pa

from logscope.patterns.miner import Miner, Pattern
from logscope.store.patterns import (
    PatternRow,
    block_summary,
    last_record_id,
    load_patterns,
    mined_to,
    new_records,
    write_mined,
)

# Records mined per transaction (bounded memory on a first run over a big database).
BLOCK_RECORDS = 200_000


class PatternStage:
    """Keeps `patterns` and `record_patterns` up to date with `logs` on one connection."""

    def __init__(self, con) -> None:
        self.con = con
        rows = load_patterns(con)
        self.rows: dict[int, PatternRow] = {row.id: row for row in rows}
        self.miner = Miner.load((row.id, row.shapes, row.merged_into) for row in rows)
        self.mined_to = mined_to(con)

    def catch_up(self) -> int:
        """Mine every record stored since the last call; returns how many were mined."""
        target = last_record_id(self.con, self.mined_to)
        mined = 0
        while self.mined_to < target:
            upto = min(target, self.mined_to + BLOCK_RECORDS)
            mined += self._mine_block(new_records(self.con, self.mined_to, upto), upto)
        return mined

    def _mine_block(self, block: pa.Table, upto: int) -> int:
        ids = self.miner.assign(block.column("message"))
        block = block.append_column("pattern_id", pa.array(ids, pa.int64()))
        touched = self._count(block_summary(self.con, block))
        changed = self.miner.changed | touched
        self.miner.changed = set()
        for pattern_id in sorted(changed):
            self._refresh(self.miner.patterns[pattern_id])
        write_mined(self.con, block, (self.rows[i] for i in sorted(changed)), upto)
        self.mined_to = upto
        return block.num_rows

    def _count(self, summary: list[tuple]) -> set[int]:
        """Add a block's counts, times and first examples to its patterns; returns their ids."""
        touched: set[int] = set()
        for pattern_id, first, last, count, first_id, example in summary:
            root = self.miner.root(pattern_id)  # counts go to the pattern it is part of now
            row = self._row(root)
            row.count += count
            row.first_seen = _earliest(row.first_seen, first)
            row.last_seen = _latest(row.last_seen, last)
            if row.example_id is None or first_id < row.example_id:
                row.example_id, row.example = first_id, example
            touched.add(root)
        return touched

    def _row(self, pattern_id: int) -> PatternRow:
        row = self.rows.get(pattern_id)
        if row is None:
            pattern = self.miner.patterns[pattern_id]
            row = PatternRow(pattern_id, pattern.template, None, None, 0, None, None, None, [])
            self.rows[pattern_id] = row
        return row

    def _refresh(self, pattern: Pattern) -> None:
        """Copy the miner's view of a pattern into its row; a pattern merged into another hands
        its counts, times and example over to that one (the row keeps its id and shapes)."""
        row = self._row(pattern.id)
        row.template = pattern.template
        row.shapes = [" ".join(shape) for shape in pattern.shapes]
        root = self.miner.root(pattern.id)
        row.merged_into = None if root == pattern.id else root
        if row.merged_into is not None and (row.count or row.example_id is not None):
            self._fold(row, self._row(root))

    @staticmethod
    def _fold(row: PatternRow, into: PatternRow) -> None:
        into.count += row.count
        into.first_seen = _earliest(into.first_seen, row.first_seen)
        into.last_seen = _latest(into.last_seen, row.last_seen)
        if into.example_id is None or (row.example_id is not None and row.example_id < into.example_id):
            into.example_id, into.example = row.example_id, row.example
        row.count, row.first_seen, row.last_seen, row.example_id, row.example = 0, None, None, None, None


def _earliest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
