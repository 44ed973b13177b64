"""Retention: delete the oldest records (and their alerts) by age or database size; compaction.

What shrinks a DuckDB file (DuckDB 2.0, see docs/status.md "Retention and disk space"):
- DELETE only marks rows deleted. A CHECKPOINT then rewrites or drops the row groups it touched and
  returns their blocks to the free list: `pragma_database_size()` shows fewer `used_blocks`, more
  `free_blocks`. New data reuses free blocks before the file grows, so the file stops growing.
- The file itself is truncated only when the free blocks are at its very end, which is rare for a
  log store (old data sits at the front). VACUUM does not reclaim anything.
- Shrinking the file means rewriting it: COPY FROM DATABASE into a new file (`logscope vacuum
  --compact`), which needs the database to itself.
So the size limit is enforced on what the database *uses* (used blocks plus the WAL), not on the
file's length, and the file settles at about the limit plus one checkpoint's worth of slack.

Records an agent has not shipped to its lake yet are never deleted (docs/lake.md): the shipper
keeps the last local id the lake holds in `meta` (SHIPPED_TO_KEY), and retention deletes only at
or below it, however old the records are, until the lake has them.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import duckdb

from logscope.errors import LogscopeError
from logscope.store.database import connect
from logscope.store.stats import table_columns, table_exists

DEFAULT_INTERVAL = 60.0
# Delete down to this share of the size limit, so a pass is not needed again at the next commit.
SIZE_TARGET = 0.9
MAX_SIZE_ROUNDS = 6

SHIPPED_TO_KEY = "lake_shipped_to"  # in `meta`: the last `logs.id` the lake holds (lake/shipper.py)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.I)
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b(?:ytes)?)?\s*", re.I)


def parse_duration(text: str) -> float:
    """Seconds in `7d`, `12h`, `30m`, `90s`, `2w` or combinations such as `1d12h`."""
    compact = text.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise LogscopeError(f"{text!r}: not a duration (use e.g. 7d, 12h, 30m, 90s, 2w)", 2)
    return sum(float(number) * _UNITS[unit.lower()] for number, unit in parts)


def parse_size(text: str) -> int:
    """Bytes in `2GB`, `500MB`, `1.5GiB`, `800k` or a plain number: KB/MB/GB are powers of 1000,
    KiB/MiB/GiB powers of 1024. DuckDB's display of a size setting reads too ('16.0 MiB',
    '0 bytes')."""
    match = _SIZE.fullmatch(text)
    if not match or (match.group(3) and not match.group(2)):
        raise LogscopeError(f"{text!r}: not a size (use e.g. 2GB, 500MB, 1.5GiB)", 2)
    number, prefix, binary, _ = match.groups()
    base = 1024 if binary else 1000
    power = " kmgt".index(prefix.lower()) if prefix else 0
    return int(float(number) * base**power)


@dataclass
class RetentionPolicy:
    """Keep records newer than `retain_s` seconds and the database under `max_bytes` used."""

    retain_s: float | None = None
    max_bytes: int | None = None

    def __bool__(self) -> bool:
        return self.retain_s is not None or self.max_bytes is not None


@dataclass
class RetentionReport:
    """What one pass did."""

    deleted_logs: int = 0
    deleted_alerts: int = 0
    deleted_stats: int = 0
    used_before: int = 0
    used_after: int = 0
    file_before: int = 0
    file_after: int = 0
    live_after: int = 0
    checkpointed: bool = False
    cutoff: float | None = None
    kept_unshipped: int = 0  # records past the cutoff kept because the lake does not hold them yet

    def as_dict(self) -> dict:
        return asdict(self)


def storage_used(con: duckdb.DuckDBPyConnection, db_path: str) -> tuple[int, int]:
    """(bytes in used blocks plus the WAL, bytes of the file plus the WAL)."""
    block_size, used_blocks = con.execute(
        "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchone()
    wal = _size(db_path + ".wal")
    return int(block_size) * int(used_blocks) + wal, _size(db_path) + wal


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def checkpoint(con: duckdb.DuckDBPyConnection) -> bool:
    """CHECKPOINT, which frees the blocks of deleted rows; False if DuckDB declined this time."""
    try:
        con.execute("CHECKPOINT")
        return True
    except duckdb.Error:
        return False  # another transaction is running; DuckDB's automatic checkpoints follow later


def _alert_time_column(con: duckdb.DuckDBPyConnection) -> str | None:
    """The column that says when an alert last saw a record (`last_ts`, `last_seen` …)."""
    if not table_exists(con, "alerts"):
        return None
    columns = {name: kind for name, kind in table_columns(con, "alerts").items() if "TIMESTAMP" in kind}
    if "last_at" in columns:
        return "last_at"  # the rule engine's: the event time of the alert's latest record
    for name in columns:
        if name.startswith("last"):
            return name
    return next(iter(columns), None)


def delete_before(con: duckdb.DuckDBPyConnection, cutoff: float, report: RetentionReport) -> None:
    """Delete records with an event time before `cutoff` (epoch seconds), and alerts and stats as old."""
    report.cutoff = cutoff if report.cutoff is None else max(report.cutoff, cutoff)
    bound = "to_timestamp(?)"
    con.begin()
    try:
        shipped = shipped_to(con)
        if shipped is None:
            deleted = con.execute(f"DELETE FROM logs WHERE ts < {bound}", [cutoff]).fetchone()[0]
        else:
            sql = f"DELETE FROM logs WHERE ts < {bound} AND id <= ?"
            deleted = con.execute(sql, [cutoff, shipped]).fetchone()[0]
            sql = f"SELECT count(*) FROM logs WHERE ts < {bound} AND id > ?"
            report.kept_unshipped = con.execute(sql, [cutoff, shipped]).fetchone()[0]
        report.deleted_logs += deleted
        if table_exists(con, "record_patterns"):  # the deleted records' patterns (docs/patterns.md)
            con.execute("DELETE FROM record_patterns WHERE id NOT IN (SELECT id FROM logs)").fetchall()
        alert_time = _alert_time_column(con)
        if alert_time:
            sql = f'DELETE FROM alerts WHERE "{alert_time}" < {bound}'
            report.deleted_alerts += con.execute(sql, [cutoff]).fetchone()[0]
        if table_exists(con, "stats"):
            sql = f"DELETE FROM stats WHERE ts < {bound}"
            report.deleted_stats += con.execute(sql, [cutoff]).fetchone()[0]
        con.commit()
    except BaseException:
        con.rollback()
        raise


def shipped_to(con: duckdb.DuckDBPyConnection) -> int | None:
    """The last local id the lake holds, for a database that ships to one (else None)."""
    if not table_exists(con, "meta"):
        return None
    row = con.execute("SELECT value FROM meta WHERE key = ?", [SHIPPED_TO_KEY]).fetchone()
    return int(row[0]) if row else None


def _size_cutoff(con: duckdb.DuckDBPyConnection, share: float) -> float | None:
    """The event time below which `share` of the records lie (epoch seconds)."""
    row = con.execute("SELECT epoch(quantile_disc(ts, ?)) FROM logs", [min(max(share, 0.0), 1.0)]).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def apply_retention(
    con: duckdb.DuckDBPyConnection, policy: RetentionPolicy, db_path: str, now: float | None = None
) -> RetentionReport:
    """One retention pass on `con` (a cursor of its own); safe while the writer keeps appending."""
    report = RetentionReport()
    report.checkpointed = checkpoint(con)
    report.used_before, report.file_before = storage_used(con, db_path)
    if policy.retain_s is not None:
        delete_before(con, (now or time.time()) - policy.retain_s, report)
    if policy.max_bytes is not None:
        _enforce_size(con, policy.max_bytes, db_path, report)
    report.checkpointed = checkpoint(con) and report.checkpointed
    report.used_after, report.file_after = storage_used(con, db_path)
    report.live_after = int(report.used_after * live_share(con))
    return report


def live_share(con: duckdb.DuckDBPyConnection) -> float:
    """The share of the rows stored in `logs` that are not deleted (deleted ones still take space
    until a checkpoint can drop or merge their row groups)."""
    live = con.execute("SELECT count(*) FROM logs").fetchone()[0]
    stored = con.execute(
        "SELECT estimated_size FROM duckdb_tables() WHERE table_name = 'logs'"
        " AND database_name = current_database()"
    ).fetchone()[0]
    return min(1.0, live / stored) if stored else 1.0


def estimated_bytes(con: duckdb.DuckDBPyConnection, db_path: str) -> int:
    """What the database would use if every deleted record's space were reclaimed."""
    used, _file = storage_used(con, db_path)
    return int(used * live_share(con))


def _enforce_size(
    con: duckdb.DuckDBPyConnection, max_bytes: int, db_path: str, report: RetentionReport
) -> None:
    """Delete the oldest records until the live data fits under `max_bytes` (with 10% headroom).

    Judged on the live share of the used bytes, so rows already deleted but not yet reclaimed
    (DuckDB frees space a row group at a time) are not counted twice: no runaway deletion."""
    for _ in range(MAX_SIZE_ROUNDS):
        checkpoint(con)
        estimate = estimated_bytes(con, db_path)
        if estimate <= max_bytes:
            return
        cutoff = _size_cutoff(con, 1.0 - SIZE_TARGET * max_bytes / estimate)
        if cutoff is None:
            return  # no records left to delete; what remains is alerts, stats and free space
        before = report.deleted_logs
        delete_before(con, cutoff, report)
        if report.deleted_logs == before:
            # The quantile fell on the oldest time itself: delete that instant too.
            delete_before(con, cutoff + 1e-6, report)
            if report.deleted_logs == before:
                return


class RetentionWorker:
    """A thread that applies the policy every `interval` seconds on a cursor of its own."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        policy: RetentionPolicy,
        db_path: str,
        interval: float = DEFAULT_INTERVAL,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.con = con
        self.policy = policy
        self.db_path = db_path
        self.interval = interval
        self.on_error = on_error
        self.last_report: RetentionReport | None = None
        self.passes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="logscope-retention", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def run_once(self, policy: RetentionPolicy | None = None) -> RetentionReport | None:
        """One pass now (the thread's, or a manual `logscope vacuum` through the socket)."""
        with self._lock:
            cursor = self.con.cursor()
            try:
                cursor.execute("SET SESSION TimeZone = 'UTC'")
                report = apply_retention(cursor, policy or self.policy, self.db_path)
            except duckdb.Error as exc:
                if self.on_error:
                    self.on_error(f"retention: {' '.join(str(exc).split())}")
                return None
            finally:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self.last_report = report
            self.passes += 1
            return report

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


def compact(db_path: str) -> tuple[int, int]:
    """Rewrite the database into a new file and put it in place; needs exclusive access.

    Returns the file size (with WAL) before and after."""
    before = _size(db_path) + _size(db_path + ".wal")
    temporary = db_path + ".compact"
    for leftover in (temporary, temporary + ".wal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
    try:
        con = connect(db_path, external_access=True)  # ATTACH of the new file, by our SQL only
    except duckdb.Error as exc:
        raise LogscopeError(f"{db_path}: cannot compact: {' '.join(str(exc).split())}") from exc
    try:
        # One thread: parallel inserts write row groups optimistically and merge them afterwards,
        # which leaves about half the new file as free blocks (measured with DuckDB 2.0).
        con.execute("SET threads = 1")
        name = con.execute("SELECT current_database()").fetchone()[0]
        escaped = temporary.replace("'", "''")
        con.execute(f"ATTACH '{escaped}' AS logscope_compacted")
        con.execute(f'COPY FROM DATABASE "{name}" TO logscope_compacted')
        con.execute("DETACH logscope_compacted")
    except duckdb.Error as exc:
        con.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise LogscopeError(f"{db_path}: cannot compact: {' '.join(str(exc).split())}") from exc
    con.close()
    mode = os.stat(db_path).st_mode & 0o777
    os.chmod(temporary, mode)
    os.replace(temporary, db_path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(db_path + ".wal")
    return before, _size(db_path)
