"""Reading back the file checkpoints the writer commits with the rows they cover."""

from __future__ import annotations

import duckdb

from logscope.record import Checkpoint


def load_checkpoints(con: duckdb.DuckDBPyConnection) -> list[Checkpoint]:
    """Every stored checkpoint, on the writer's own connection (so nothing is read stale)."""
    rows = con.execute(
        'SELECT key, dev, inode, fingerprint, "offset" FROM checkpoints ORDER BY updated_at'
    ).fetchall()
    return [Checkpoint(key, dev, inode, fingerprint, offset) for key, dev, inode, fingerprint, offset in rows]
