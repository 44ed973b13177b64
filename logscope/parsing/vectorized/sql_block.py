"""A plan's SQL run over each block in the bulk import's reader thread (docs/benchmarks.md, "Fourth round").

The store used to run a regex plan's SQL twice per block in the importing thread: once for `ok`
(which lines Python must read) and once in the INSERT. Here the reader thread runs it once, in a
private in-memory DuckDB connection, one block ahead of the store's insert of the previous block
(both release the GIL), and hands on the finished rows: the columns of the per-line plan
(per_line.py), plus `rejected` (lines the format surely refuses, so the next format is tried).
The store's write then only inserts them. The rows are the plan's own: same SQL, same level
table, so tests/test_bulk_identity.py holds as before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from logscope.parsing.vectorized.plans import RegexPlan

# The private connection's memory: one block's columns (8 MB of lines) with room to spare.
PARSE_MEMORY_LIMIT = "96MB"
_BLOCK = "_logscope_sql_block"
_LEVELS = "_logscope_sql_levels"
ROW_COLUMNS = ("ts_us", "level", "message", "host", "fields", "raw", "ok")


@dataclass
class SqlBlockPlan:
    """Rows (ts_us, level, message, host, fields, raw, ok, rejected) of a block, by `plan`'s SQL."""

    plan: RegexPlan
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def name(self) -> str:
        return self.plan.name

    def prepare_lines(self, lines: list[str]) -> pa.Table:
        """The block's rows in line order (`ok` false where the streaming parser must read the line)."""
        block = self.plan.prepare_lines(lines)
        rejected = self.plan.rejected(block)
        block = block.append_column("key", pa.array(range(len(lines)), pa.int64()))
        con = self._connection()
        con.register(_BLOCK, block)
        try:
            texts = con.execute(f"SELECT DISTINCT {self.plan.level_text_sql()} FROM {_BLOCK}").fetchall()
            con.register(_LEVELS, self.plan.level_table([row[0] for row in texts]))
            select = self.plan.select_sql(_BLOCK, _LEVELS)
            columns = ", ".join(ROW_COLUMNS)
            rows = con.execute(f"SELECT key, {columns} FROM ({select})").to_arrow_table()
        finally:
            con.unregister(_BLOCK)
            con.unregister(_LEVELS)
        if not _ascending(rows.column("key")):
            rows = rows.take(pc.sort_indices(rows.column("key")))
        return rows.drop_columns(["key"]).append_column("rejected", rejected)

    def rejected(self, table: pa.Table) -> pa.Array:
        """Lines the format surely does not accept (the plan's own `rejected`, computed with the rows)."""
        return table.column("rejected")

    def level_text_sql(self) -> None:
        """No level table in the store: the rows carry their levels."""
        return None

    def level_table(self, texts: list[str]) -> pa.Table:
        raise NotImplementedError("SqlBlockPlan rows carry their levels")

    def select_sql(self, block: str, levels: str) -> str:
        return f"SELECT key, {', '.join(ROW_COLUMNS)} FROM {block}"

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's in-memory connection (one thread, a small memory limit)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = duckdb.connect(config={"autoinstall_known_extensions": False, "threads": 1})
            con.execute(f"SET memory_limit = '{PARSE_MEMORY_LIMIT}'")
            self._local.con = con
        return con


def _ascending(keys: pa.ChunkedArray) -> bool:
    if len(keys) < 2:
        return True
    return bool(pc.all(pc.less(keys.slice(0, len(keys) - 1), keys.slice(1))).as_py())
