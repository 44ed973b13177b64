"""When a bulk import (store/bulk.py) commits and checkpoints, and DuckDB's settings while it runs."""

from __future__ import annotations

import time

import duckdb

# DuckDB's memory limit during a bulk import: without it, writing a million wide rows peaks near
# 800 MB (buffers DuckDB frees only at its limit). A million nginx lines peak at about 530 MB
# with 256MB, 450 MB with 128MB (same CPU time), 380 MB with 64MB (5-8% more CPU time): the
# 128MB middle keeps room for wide rows (docs/benchmarks.md). With transactions spanning blocks,
# 64MB peaked 50-80 MB lower at the same speed, but the limit holds for the whole database: the
# miner's and the rules' connections beside the import then failed with DuckDB's out-of-memory
# error (tests/test_rules_replay.py).
BULK_MEMORY_LIMIT = "128MB"
# DuckDB's threads during a bulk import: one. The import already runs two threads (the reader's
# parsing beside DuckDB's insert); DuckDB's own workers on each block's query cost 26-27% more
# CPU time for the same rows (300,000 nginx lines: 6.3 -> 4.6 CPU-s, JSON lines 4.1 -> 3.1) and,
# on a busy machine, wall time too (docs/benchmarks.md, "Bulk import fast path").
BULK_THREADS = 1
# How long the end of an import waits for other connections' write transactions (a mined block's,
# an alert's: tens of milliseconds each) to let its CHECKPOINT run (docs/benchmarks.md).
CHECKPOINT_WAIT_SECONDS = 2.0
# During a bulk import DuckDB's automatic checkpoint is off and the import checkpoints itself,
# between blocks, in its thread, once the write-ahead log holds IMPORT_CHECKPOINT_SCALE times
# DuckDB's threshold (`wal_autocheckpoint`, 16 MiB unless set): the log holds at most that plus one
# block's rows, however long the file. DuckDB's own checkpoint, once the miner no longer held it
# off, ran in whichever connection committed next (the miner's, the markers'), beside the
# import's insert: peaks of 950-1,014 MB against 510-530 MB. Each checkpoint costs ~0.4 CPU-s
# more than the rows it writes (a million nginx lines: 8.2-9.7 CPU-s of checkpoints at 16 MiB,
# 3.7-4.8 at 64 MiB, 2.3 at 128 MiB): at 128 MiB the import's CPU time is the same as before,
# at 64 MiB 1.5-3 CPU-s more (docs/benchmarks.md, "Bulk import fast path", eighth round).
IMPORT_CHECKPOINT_SCALE = 8
# While the import checkpoints itself: DuckDB's threshold, out of reach.
NO_AUTOMATIC_CHECKPOINT = "1TB"
# DuckDB's row group (rows). A transaction's full row groups are written to the database file as
# it inserts ("optimistic writes"), and at commit they join the table as written when the
# transaction holds at least a row group (DuckDB's LocalStorage::Flush; else its rows are inserted
# again and logged): the write-ahead log then holds where they are, not their rows, and needs no
# checkpoint. A commit's last row group is partly full; a full checkpoint merges neighbouring
# row groups that fit in fewer (RowGroupCollection::ScheduleVacuumTasks) and writes them again,
# the old blocks left free (a million nginx lines committed a row group and a part at a time:
# 267 MB of file, 120 MB of it free, for 155 MB of rows). Two parts of more than half a row group
# never fit in one: so a bulk import's transaction spans blocks until its last row group is more
# than half full (docs/benchmarks.md, "Bulk import fast path", ninth round).
ROW_GROUP_ROWS = 122_880
# ...or until it holds this many rows, however full its last row group.
MAX_COMMIT_ROWS = 8 * ROW_GROUP_ROWS
# DuckDB holds the row group it fills in memory. Rows so wide that a row group and a half of them
# would come from more of the file than this are committed a block at a time, through the log, as
# before transactions spanned blocks: 150,000 JSON lines of 2 KB (300 MB) peaked at 1.14-1.21 GB
# waiting for row groups, 697-724 MB a block at a time (10.7 s; 11.4-11.6 s before); capped at
# 64 MB a transaction instead, 724 MB but 13.1 s. nginx (~160 bytes a line) and the bench's JSON
# lines (~170) are far below the width this allows (~360 bytes).
MAX_HELD_BYTES = 64 << 20


def commit_due(rows: int, least: int = ROW_GROUP_ROWS, held_bytes: int = 0) -> bool:
    """Whether a bulk import's transaction of `rows` rows, read from `held_bytes` of the file, is
    committed after this block: once it holds `least` rows and (if that is a row group or more)
    its last row group is more than half full, or it holds MAX_COMMIT_ROWS; at once if its rows
    are too wide to wait for a row group and a half (MAX_HELD_BYTES)."""
    if rows and held_bytes * (ROW_GROUP_ROWS + ROW_GROUP_ROWS // 2) > MAX_HELD_BYTES * rows:
        return True
    if rows < least:
        return False
    half = ROW_GROUP_ROWS // 2
    return least < ROW_GROUP_ROWS or rows >= MAX_COMMIT_ROWS or rows % ROW_GROUP_ROWS > half


def checkpoint(con: duckdb.DuckDBPyConnection, wait: float = CHECKPOINT_WAIT_SECONDS) -> bool:
    """CHECKPOINT, trying again for up to `wait` seconds while another connection's write
    transaction makes DuckDB decline it; whether it ran (if not, the next commit's does).

    DuckDB declines it while another connection's open transaction has updated rows (an UPDATE,
    an `INSERT OR REPLACE`; a plain INSERT or DELETE does not: store/replace.py). The miner's
    upserts beside the import had it declined in 6 of 7 runs of a million nginx lines, and the
    alerts' or a view's commit then checkpointed the import's last 24-130 MB of log uncapped
    (DuckDB 385 MB in use); the miner, the markers and the alerts now replace rows instead."""
    deadline = time.monotonic() + wait
    while True:
        try:
            con.execute("CHECKPOINT")
            return True
        except duckdb.TransactionException:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        except duckdb.Error:
            return False


def wal_path(con: duckdb.DuckDBPyConnection) -> str | None:
    """The write-ahead log of the connection's database file (None in memory)."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return f"{rows[0][0]}.wal" if rows and rows[0][0] else None
