"""The files `tail` is still importing, answered where they lie (issue 17).

`logscope tail BIGFILE` stores the file block by block from its start; until that import has
caught up, a filter or a SQL statement would see only the part stored so far. `CatchUpFiles`
answers them over the whole files with the in-place engine (pipeline/in_place.py): the same
`logs` table and format views, at DuckDB's speed, with no import. Its rows carry the ids the
import gives the same records (it stores the files in this order, one id per record, after
`base_id`), so the log view joins the stored part and the rest at the import's newest id, with
no row twice and none missing as the import moves on (tui/log_reader.py).

That holds while the files are imported from their first byte after `base_id`: `tail` makes one
only then (a fresh import, commands/tail.py). pyarrow and the engine are loaded on first use.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from logscope.parsing.base import Parser
    from logscope.parsing.registry import FormatRegistry

# The columns of `logs`, as the store's table has them.
LOG_COLUMNS = "id, ts, received_at, source, host, format, level, message, fields, raw"
# Rows a filter may keep from the part not stored yet: beyond this, the view keeps to the stored
# part (the rows are held in memory until the import has stored them).
MAX_ROWS = 200_000
MEMORY_LIMIT = "512MB"
FILTER_SQL = "SELECT id FROM logs"  # what a filter's connection is made for: logs, with ids


class NotReadInPlace(Exception):
    """Why a filter reads the stored part only."""


class TooManyRows(NotReadInPlace):
    """A filter keeps more rows of the part not stored yet than the view holds (MAX_ROWS)."""


class Closed(NotReadInPlace):
    """The files are no longer read in place (tail is ending)."""


class CatchUpFiles:
    """SQL over files being imported, in place; safe to call from any thread (one at a time)."""

    def __init__(self, paths: list[str], base_id: int) -> None:
        self.paths = list(paths)
        self.base_id = base_id  # the store's newest id before the import began
        self._lock = threading.Lock()
        # Connections by the SQL they were made for: views are made only for the formats it
        # names (binding every format's view costs seconds), `id` only where it is read.
        self._cons: dict[str, duckdb.DuckDBPyConnection] = {}
        self._engines: dict[str, Any] = {}  # the InPlaceQuery behind each connection
        self._parsers: dict[str, Any] = {}  # a streaming parser per file (catch_up_rows.py)
        self._closed = False
        self.how = ""  # how the engine reads the files (scanned by DuckDB, or our parser)

    def _connection(
        self, registry: FormatRegistry, forced: Parser | None, sql: str = FILTER_SQL
    ) -> duckdb.DuckDBPyConnection:
        """The locked in-place connection for `sql` (the filters' one is kept, and the last other)."""
        if self._closed:
            raise Closed("tail is ending: nothing more is read in place")
        from logscope.pipeline.in_place import InPlaceQuery, mentions_ids

        names = {parser.name for parser in registry.ordered}
        key = FILTER_SQL if sql == FILTER_SQL else _views_key(sql, names, mentions_ids(sql))
        if key not in self._cons:
            for other in [other for other in self._cons if other != FILTER_SQL]:
                self._cons.pop(other).close()
            engine = InPlaceQuery(self.paths, registry, forced)
            made_for = sql
            if key == FILTER_SQL:  # with the views of the formats detected (catch_up_rows.py)
                from logscope.pipeline.catch_up_rows import detected

                self._parsers = detected(self.paths, registry, forced, engine.received_at)
                names = {parser.name for found in self._parsers.values() for parser in found.order[:4]}
                made_for = ", ".join([sql, *sorted(names)])
            self._cons[key] = engine.connect(made_for, memory_limit=MEMORY_LIMIT)
            self._engines[key] = engine
            self.how = "; ".join(file.how for file in engine.files)
            if self._closed:  # closed while this was made
                self._close_all()
                raise Closed("tail is ending: nothing more is read in place")
        return self._cons[key]

    def rows_after(self, *args, **kwargs) -> pa.Table:
        """See `_rows_after`; run in a daemon thread of its own (see `_apart`)."""
        return self._apart(self._rows_after, *args, **kwargs)

    def run_sql(self, *args, **kwargs) -> tuple[list[str], list[tuple], bool]:
        """See `_run_sql`; run in a daemon thread of its own (see `_apart`)."""
        return self._apart(self._run_sql, *args, **kwargs)

    def _apart(self, work, *args, **kwargs):
        """`work(...)` in a daemon thread, waited for until it ends or the files are closed: the
        caller (a worker of the app's, which the interpreter waits for at exit) is let go at once
        when tail ends, even during what cannot be interrupted (making the connection)."""
        outcome: list = []

        def run() -> None:
            try:
                outcome.append((True, work(*args, **kwargs)))
            except BaseException as exc:  # (raised again in the caller's thread)
                outcome.append((False, exc))

        thread = threading.Thread(target=run, name="tail-in-place", daemon=True)
        thread.start()
        while thread.is_alive() and not self._closed:
            thread.join(0.1)
        if not outcome:
            raise Closed("tail is ending: nothing more is read in place")
        done, value = outcome[0]
        if not done:
            raise value
        return value

    def _rows_after(
        self,
        registry: FormatRegistry,
        forced: Parser | None,
        after_id: int,
        where: str = "true",
        params: list | None = None,
        limit: int = MAX_ROWS,
    ) -> pa.Table:
        """The records with ids above `after_id` (the store's newest) that `where` keeps, every
        column of `logs`, ids as the import gives them; TooManyRows past `limit`."""
        import duckdb

        from logscope.pipeline.catch_up_rows import by_views

        offset = int(self.base_id)
        after_key = int(after_id) - offset
        if offset and re.search(r"\bid\b", where, re.IGNORECASE):
            raise NotReadInPlace("a filter on id (the file's ids there are counted from 1)")
        with self._lock:
            cursor = self._connection(registry, forced)
            table = None
            rewritten = by_views(where, self._typed(registry)) if self._parsers else None
            if rewritten is not None:
                try:
                    table = self._by_views(cursor, rewritten, after_key, where, params or [], limit)
                except (duckdb.Error, ValueError):
                    if self._closed:  # interrupted: tail is ending
                        raise Closed("tail is ending: nothing more is read in place") from None
                    table = None  # (the views could not answer it: over `logs`, below)
            if table is None:
                sql = (
                    f"SELECT id, ts, received_at, source, host, format, level, message,"
                    f" CAST(fields AS VARCHAR) AS fields, raw FROM logs"
                    f" WHERE id > {after_key} AND ({where}) LIMIT {int(limit) + 1}"
                )
                table = cursor.execute(sql, params or []).to_arrow_table()
        if table.num_rows > limit:
            raise TooManyRows(f"more than {limit:,} records not stored yet match")
        import pyarrow.compute as pc

        ids = pc.add(table.column("id"), offset)
        return table.set_column(table.schema.get_field_index("id"), "id", ids)

    def _typed(self, registry: FormatRegistry) -> dict[str, set[str]]:
        """The formats whose view the filters' connection has, and their typed fields."""
        names = {name for file in self._engines[FILTER_SQL].files for name in file.typed}
        return {name: set(registry.field_types(name)) for name in sorted(names)}

    def _by_views(self, cursor, rewritten, after_key, where, params, limit):
        """`where`'s rows found through the format views' typed columns (catch_up_rows.py)."""
        from logscope.pipeline.catch_up_rows import candidates_sql, kept_rows

        sql = f"{candidates_sql(rewritten, after_key)} LIMIT {int(limit) + 1}"
        found = cursor.execute(sql).to_arrow_table()
        if found.num_rows > limit:
            raise TooManyRows(f"more than {limit:,} records not stored yet may match")
        engine = self._engines[FILTER_SQL]
        return kept_rows(cursor, found, self._parsers, engine.received_at, where, params)

    def _run_sql(
        self, registry: FormatRegistry, forced: Parser | None, sql: str, limit: int
    ) -> tuple[list[str], list[tuple], bool]:
        """Columns, up to `limit` rows and whether there were more, of `sql` over the whole files."""
        with self._lock:
            cursor = self._connection(registry, forced, sql)
            result = cursor.execute(sql)
            if result.description is None:
                return [], [], False
            columns = [column[0] for column in result.description]
            rows = result.fetchmany(limit + 1)
        return columns, rows[:limit], len(rows) > limit

    def close(self, wait_seconds: float = 1.0) -> None:
        """Stop a query under way and close, waiting at most `wait_seconds` (quitting does not
        wait for a scan): a connection still being made is closed by its maker, which sees this."""
        self._closed = True
        deadline = time.monotonic() + wait_seconds
        while not self._lock.acquire(timeout=0.1):
            for con in list(self._cons.values()):
                con.interrupt()  # (again: a statement may start after the last interrupt)
            if time.monotonic() > deadline:
                return
        try:
            self._close_all()
        finally:
            self._lock.release()

    def _close_all(self) -> None:
        for con in self._cons.values():
            con.close()
        self._cons.clear()


def _views_key(sql: str, names: set[str], with_ids: bool) -> str:
    """What a connection made for `sql` holds: the views it names (`logs` and format views), and
    whether ids."""
    import re

    words = set(re.findall(r"\w+", sql.lower()))
    return ",".join(sorted((names | {"logs"}) & words)) + (" with ids" if with_ids else "")


def fresh_import(con: duckdb.DuckDBPyConnection, paths: list[str]) -> CatchUpFiles | None:
    """The files `paths` as the import about to start will store them, or None when there is
    none or an earlier run stored a part of one (its records would not get the ids counted here)."""
    import duckdb

    files = [path for path in paths if _regular(path)]
    if not files:
        return None
    try:
        rows = con.execute('SELECT dev, inode FROM checkpoints WHERE "offset" > 0').fetchall()
    except duckdb.CatalogException:
        rows = []
    read = {(dev, inode) for dev, inode in rows}
    if any(_identity(path) in read for path in files):
        return None
    base_id = con.execute("SELECT coalesce(max(id), 0) FROM logs").fetchone()[0]
    return CatchUpFiles(files, int(base_id))


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _identity(path: str) -> tuple[int, int]:
    found = os.stat(path)
    return found.st_dev, found.st_ino


def import_progress(read: int, total: int) -> int:
    """The share of the import done, in whole percent (never 100 before the end)."""
    if total <= 0:
        return 100
    return min(99, read * 100 // total) if read < total else 100
