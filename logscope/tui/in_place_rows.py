"""A filter over the whole file while `tail` is still importing it (issue 17).

While the import is behind, a typed filter also runs where the file lies (pipeline/catch_up.py)
over the records not stored yet; the rows it keeps are held here, with the ids the import will
give them. The view's `logs` is then the store's table plus those of the held rows above the
store's newest id: each record once, whether stored yet or not, and the same records as the
import moves on (a held row's id is stored as the same record). Once the import has passed the
last held id, the rows are let go and `logs` is the table alone.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from logscope.pipeline.catch_up import CatchUpFiles
    from logscope.tui.filters import FilterState
    from logscope.tui.live import LiveFeed
    from logscope.tui.log_reader import LogReader

_COLUMNS = "id, ts, received_at, source, host, format, level, message, fields, raw"
_HELD_COLUMNS = (
    "id, ts, received_at, source, host, format, level, message, CAST(fields AS JSON) AS fields, raw"
)


class InPlaceRows:
    """The rows one filter keeps of the files' part not stored yet (loaded in a worker thread)."""

    def __init__(self, catch_up: CatchUpFiles, registry: Any, forced: Any) -> None:
        self.catch_up = catch_up
        self.registry = registry
        self.forced = forced
        self.table: Any = None  # a pyarrow Table of `logs` rows, once loaded
        self.last_id = 0  # the newest id held
        self.error: str | None = None  # why the filter reads only the stored part
        self.loaded = threading.Event()

    def load(self, reader: LogReader, state: FilterState) -> None:
        """Run the filter over what the store does not hold yet (in the calling thread)."""
        from logscope.pipeline.catch_up import NotReadInPlace

        after = reader.max_id()
        where, params = state.where(None)
        try:
            table = self.catch_up.rows_after(self.registry, self.forced, after, where, params)
        except (NotReadInPlace, duckdb.Error) as exc:
            self.error = str(exc).splitlines()[0]
        else:
            ids = table.column("id")
            self.last_id = max(after, max(ids.to_pylist(), default=0)) if table.num_rows else after
            self.table = table if table.num_rows else None
        self.loaded.set()

    def release_if_stored(self, stored_id: int) -> None:
        """Let the rows go once the store holds every one of them."""
        if self.table is not None and stored_id >= self.last_id:
            self.table = None


def logs_relation(cursor: duckdb.DuckDBPyConnection, registered: dict[str, object], state: Any) -> str:
    """`logs`, or (with rows held for `state`) the table and the held rows it does not hold yet,
    as a subquery named logs; the held rows are registered on `cursor` (once)."""
    rows = getattr(state, "in_place", None)
    table = getattr(rows, "table", None)
    name = f"_in_place_{id(rows)}"
    for other in [other for other in registered if other != name or table is None]:
        cursor.unregister(other)  # rows let go, or another filter's
        del registered[other]
    if table is None:
        return "logs"
    if registered.get(name) is not table:
        cursor.register(name, table)
        registered[name] = table
    return (
        f"(SELECT {_COLUMNS} FROM logs UNION ALL SELECT {_HELD_COLUMNS} FROM {name}"
        " WHERE id > (SELECT coalesce(max(id), 0) FROM logs)) logs"
    )


def wants_in_place(state: FilterState) -> bool:
    """Whether the filter can run where the files lie: typed text or SQL over `logs` only (not
    patterns nor alert records, which are the store's; not a window anchored at the newest record)."""
    return (
        bool(state.predicate or state.text)
        and state.pattern is None
        and not state.hidden_patterns
        and state.record_ids is None
        and state.time_range.last_us is None
    )


def importing(feed: LiveFeed | None) -> int | None:
    """How far the import of the files is, in percent, while it is behind; else None."""
    if feed is None:
        return None
    from logscope.pipeline.catch_up import import_progress

    read, total, done = feed.pipeline.bulk_progress()
    return None if done else import_progress(read, total)


def with_in_place(state: FilterState, catch_up: CatchUpFiles | None, feed: LiveFeed | None) -> FilterState:
    """`state` with fresh rows to hold from the files not stored yet, when the import is behind."""
    state = state.with_changes(in_place=None)
    if catch_up is None or feed is None or not wants_in_place(state) or importing(feed) is None:
        return state
    pipeline = feed.pipeline
    return state.with_changes(in_place=InPlaceRows(catch_up, pipeline.registry, pipeline.forced))


def in_place_status(state: FilterState, feed: LiveFeed | None, catch_up: CatchUpFiles | None) -> str:
    """The status line's word on the import and what the filter reads ('' when caught up)."""
    rows = state.in_place
    if rows is not None and rows.error:
        return f"filter reads the stored part only: {rows.error}"
    percent = importing(feed) if catch_up is not None else None
    if percent is None:
        return ""
    if rows is not None:
        return f"importing {percent}% · filter over the whole file in place"
    return f"importing {percent}% · filter and SQL over the whole file in place"
