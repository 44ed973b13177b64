"""The agent's shipper: every record committed to the local database goes to the lake once.

Exactly once: each lake commit holds a batch of records and, in the same transaction, a
`shipments` row saying which local ids it covers. After a restart, a `kill -9` or any failed
commit (even one whose outcome was not seen), the shipper reads that row back from the lake and
goes on after the last id the lake holds. While the lake is unreachable the local database keeps
the records; the shipper retries with a growing pause and catches up in large batches."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from logscope.errors import LogscopeError
from logscope.lake.config import LakeConfig
from logscope.lake.connect import CONNECT_TIMEOUT_SECONDS, one_line, open_lake
from logscope.lake.schema import LOCAL_COLUMNS, create_tables
from logscope.store.replace import replace_meta
from logscope.store.retention import SHIPPED_TO_KEY

# A commit at most this often while records arrive (few, large commits: DuckLake's commit
# conflicts grow with the commit rate), sooner once this many rows wait.
SHIP_SECONDS = 1.0
BATCH_ROWS = 100_000
# While catching up, at most this many rows per commit.
MAX_ROWS = 250_000
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 15.0
# On stopping, how long the shipper goes on sending what is left before leaving it for next time.
DRAIN_SECONDS = 15.0

_SELECT_LOCAL = f"""
SELECT {LOCAL_COLUMNS.replace("fields", "fields::VARCHAR AS fields")}
FROM logs WHERE id > ? ORDER BY id LIMIT ?
"""
_INSERT_LAKE = f"""
INSERT INTO lake.logs
SELECT {LOCAL_COLUMNS.replace("fields", "fields::JSON")}, $agent_host, $agent FROM _logscope_ship
"""
_RECORD_SHIPMENT = """
INSERT INTO lake.shipments
SELECT $agent, $agent_host, $database_id, min(id), max(id), count(*), min(received_at), now()
FROM _logscope_ship
"""
_SHIPPED = """
SELECT coalesce(max(last_id), 0) FROM lake.shipments WHERE agent = ? AND database_id = ?
"""


def local_database_id(con: duckdb.DuckDBPyConnection) -> str:
    """This database's identity (in `meta`): a new database's ids start again at 1."""
    con.execute("INSERT OR IGNORE INTO meta VALUES ('database_id', ?)", [str(uuid.uuid4())])
    row = con.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
    assert row is not None
    return row[0]


def hold_unshipped(con: duckdb.DuckDBPyConnection) -> None:
    """From now on, local retention keeps every record the lake does not hold (store/retention.py);
    before the first shipment that is all of them."""
    con.execute("INSERT OR IGNORE INTO meta VALUES (?, '0')", [SHIPPED_TO_KEY])


@dataclass
class ShipperState:
    """What `logscope status` and the tests read: how far the lake is behind."""

    shipped_id: int = 0  # the last local id the lake holds
    shipped_records: int = 0  # by this process
    commits: int = 0
    conflicts: int = 0
    failures: int = 0
    lag_s: float = 0.0  # age of the oldest record of the latest commit, when it committed
    error: str | None = None  # the latest failure, until a commit succeeds


class Shipper:
    """A thread that ships the local database's new records to the lake in large batches."""

    def __init__(
        self,
        local: duckdb.DuckDBPyConnection,
        config: LakeConfig,
        *,
        agent: str | None = None,
        ship_seconds: float = SHIP_SECONDS,
        on_error=None,
    ) -> None:
        self.config = config
        self.agent_host = socket.gethostname()
        self.agent = agent or self.agent_host
        self.database_id = local_database_id(local)
        hold_unshipped(local)
        self.local = local.cursor()  # the shipper's own connection to the same database
        self.ship_seconds = ship_seconds
        self.on_error = on_error
        self.state = ShipperState()
        self._lake: duckdb.DuckDBPyConnection | None = None
        self._known = False  # whether state.shipped_id was read from the lake
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logscope-lake", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Records were committed locally (the pipeline's after-commit hook)."""
        self._wake.set()

    def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Ship what is left (for at most `drain_seconds` if the lake is slow or down), then stop."""
        self._drain_until = time.monotonic() + drain_seconds
        self._stopping.set()
        self._wake.set()
        self._thread.join(drain_seconds + CONNECT_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            return  # stuck reaching the lake: a daemon thread, it ends with the process
        self.local.close()
        if self._lake is not None:
            self._lake.close()

    # --- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        pause = RETRY_FIRST_SECONDS
        last_commit, full = 0.0, False
        while True:
            stopping = self._stopping.is_set()
            if stopping and time.monotonic() >= self._drain_until:
                return
            wait = last_commit + self.ship_seconds - time.monotonic()
            if not (stopping or full) and wait > 0:
                time.sleep(wait)  # lets a batch grow: one commit per ship_seconds at most
            try:
                shipped = self._ship_once()
            except duckdb.Error as exc:
                if self._failed(exc):
                    continue  # a commit conflict: try again at once, after a moment's jitter
                if self._stopping.wait(pause):
                    return  # stopping while the lake is unreachable: the next run ships the rest
                pause = min(pause * 2, RETRY_MAX_SECONDS)
                continue
            pause = RETRY_FIRST_SECONDS
            full = shipped >= MAX_ROWS  # catching up: the next batch at once
            if shipped:
                last_commit = time.monotonic()
                continue
            if stopping:
                return  # everything is in the lake
            self._wake.wait(self.ship_seconds)
            self._wake.clear()

    def _ship_once(self) -> int:
        """Ship the next batch; the number of records shipped (0: the lake is up to date)."""
        lake = self._connected()
        if not self._known:
            row = lake.execute(_SHIPPED, [self.agent, self.database_id]).fetchone()
            self.state.shipped_id = row[0] if row else 0
            self._known = True
            self._note_shipped()
        batch = self.local.execute(_SELECT_LOCAL, [self.state.shipped_id, MAX_ROWS]).to_arrow_table()
        if batch.num_rows == 0:
            return 0
        self._commit(lake, batch)
        return batch.num_rows

    def _commit(self, lake: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
        first, last = batch["id"][0].as_py(), batch["id"][-1].as_py()
        names = {"agent": self.agent, "agent_host": self.agent_host}
        lake.register("_logscope_ship", batch)
        try:
            lake.begin()
            try:
                lake.execute(
                    "CALL lake.set_commit_message(?, ?)", [self.agent, f"logscope: records {first}-{last}"]
                )
                lake.execute(_INSERT_LAKE, names)
                lake.execute(_RECORD_SHIPMENT, {**names, "database_id": self.database_id})
                lake.commit()
            except BaseException:
                _rollback(lake)
                raise
        finally:
            lake.unregister("_logscope_ship")
        oldest = batch["received_at"][0].as_py()
        self.state.lag_s = max(0.0, time.time() - oldest.timestamp()) if oldest else 0.0
        self.state.shipped_id = last
        self.state.shipped_records += batch.num_rows
        self.state.commits += 1
        self.state.error = None
        self._note_shipped()

    def _note_shipped(self) -> None:
        """Tell local retention what the lake holds (it may delete those records, not the rest).
        Should this fail, retention keeps more than it could: nothing is lost."""
        local = self.local
        with contextlib.suppress(duckdb.Error):
            local.begin()
            try:
                replace_meta(local, SHIPPED_TO_KEY, str(self.state.shipped_id))
                local.commit()
            except duckdb.Error:
                local.rollback()
                raise

    def _connected(self) -> duckdb.DuckDBPyConnection:
        if self._lake is None:
            self._lake = _open(self.config)
            create_tables(self._lake)
        return self._lake

    def _failed(self, exc: BaseException) -> bool:
        """Count a failed commit; True for a commit conflict (retry now). Otherwise reconnect and
        read the checkpoint anew: the commit may have gone through although its answer was lost."""
        message = one_line(exc)
        self._known = False
        if "conflict" in message.lower():
            self.state.conflicts += 1
            time.sleep(random.uniform(0.05, 0.5))
            return True
        self.state.failures += 1
        if self._lake is not None:
            with contextlib.suppress(duckdb.Error):
                self._lake.close()
            self._lake = None
        if message != self.state.error and self.on_error is not None:
            self.on_error(f"lake {self.config.name}: {message} (records stay local and are sent later)")
        self.state.error = message
        return False


def _rollback(lake: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        lake.rollback()


def _open(config: LakeConfig) -> duckdb.DuckDBPyConnection:
    """open_lake, its LogscopeError (an unreachable catalog) raised as a duckdb error to retry."""
    try:
        return open_lake(config)
    except LogscopeError as exc:
        raise duckdb.ConnectionException(str(exc)) from exc
