"""The log view: the filtered, merged stream in time order, read page by page from DuckDB."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import ClassVar

import duckdb
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView

from logscope.tui.filters import FilterState, TextMatch
from logscope.tui.log_layout import ScreenLayout
from logscope.tui.log_lines import LineRenderer
from logscope.tui.log_reader import LogReader, Row, SourceCounts, one_line_error
from logscope.tui.log_search import SearchJumps

# Rows fetched around the viewport: this many screens above and below it.
WINDOW_SCREENS = 2
# Rendered lines kept, in screens: each is a Strip with its derived strips and their caches, a
# few dozen objects the garbage collector walks at every full collection (a stall for everything).
STRIP_CACHE_SCREENS = 3
# New records are read and shown at most this often (a frame rate for following, matched to
# tail's commits): each update redraws the whole view (~30 ms of the app's thread at 180x45), and
# the time it takes is time a key press may wait for.
LIVE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """What a live read found among the ids after the view's last one, up to `upto`."""

    upto: int
    added: int = 0
    earliest: int = 0  # the earliest time among the added records (µs)
    rows: tuple[Row, ...] = ()  # the newest of them, in time order (when following)
    total: int | None = None  # a full recount (a relative time range drops old records)


class LogView(SearchJumps, ScreenLayout, ScrollView, can_focus=True):
    """Shows `total` rows; holds only a window of them, fetched when the viewport moves."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-view--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f,space", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "follow", "Follow"),
        Binding("enter", "choose", "Detail"),
        Binding("n", "next_match(True)", "Next match", show=False),
        Binding("N", "next_match(False)", "Prev match", show=False),
        Binding("e", "next_level('error', True)", "Next error", show=False),
        Binding("E", "next_level('error', False)", "Previous error", show=False),
        Binding("w", "next_level('warning', True)", "Next warning", show=False),
        Binding("W", "next_level('warning', False)", "Previous warning", show=False),
        Binding("m", "toggle_mark", "Mark", show=False),
        Binding("u", "next_mark(True)", "Next mark", show=False),
        Binding("U", "next_mark(False)", "Previous mark", show=False),
        Binding("left", "scroll_sideways(-1)", "Left", show=False),
        Binding("right", "scroll_sideways(1)", "Right", show=False),
        Binding("ctrl+w", "toggle_wrap", "Wrap", show=False),
        Binding("p", "toggle_details", "Fields", show=False),
    ]

    following: reactive[bool] = reactive(True)
    cursor: reactive[int] = reactive(-1, always_update=True)

    class StatusChanged(Message):
        """The counts, cursor or follow state changed (for the status line)."""

        def __init__(self, total: int, cursor: int, following: bool) -> None:
            super().__init__()
            self.total = total
            self.cursor = cursor
            self.following = following

    class RecordChosen(Message):
        """Enter was pressed on a row."""

        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    class FilterLoaded(Message):
        """A new filter's records are counted and shown."""

        def __init__(self, total: int) -> None:
            super().__init__()
            self.total = total

    class FilterFailed(Message):
        """DuckDB could not run the filter (an error that only shows when it runs)."""

        def __init__(self, message: str) -> None:
            super().__init__()
            self.message = message

    class SearchResult(Message):
        """Where a search landed: the `ordinal`-th of `hits` matches, or None when there is no
        further match in that direction."""

        def __init__(self, text: str, hits: int, ordinal: int | None, forward: bool) -> None:
            super().__init__()
            self.text = text
            self.hits = hits
            self.ordinal = ordinal
            self.forward = forward

        @property
        def found(self) -> bool:
            return self.ordinal is not None

    def __init__(
        self,
        reader: LogReader,
        zone: tzinfo = UTC,
        counts: SourceCounts | None = None,
        file_ends: Sequence[tuple[str, str]] = (),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.reader = reader
        self.file_ends = list(file_ends)  # a fresh database's first screen (tui/file_ends.py)
        self.counts = counts
        self.zone = zone
        self.state = FilterState()
        self.search: TextMatch | None = None
        self.search_place: tuple[int | None, int] | None = None  # (ordinal, hits) of the search
        self.total = 0
        self.last_id = 0
        self._window_start = 0
        self._window: list[Row] = []
        self._window_as_of: tuple[int, int] = (0, -1)  # (last id, total) when the rows were read
        self.lines = LineRenderer(zone, STRIP_CACHE_SCREENS * 50)
        self._layout: tuple[tuple, list[tuple[int, int]]] = ((), [])
        self.filtering = False
        self._pending_state = self.state
        self._latest_seen = 0
        self._search_when_loaded = False
        self._live_reading = False
        self._live_due = 0.0  # not before this (monotonic seconds)
        # Called at once on every status change, so the status line is drawn in the same frame as
        # the rows (a StatusChanged message is handled later: the count trailed the rows).
        self.status_listener: Callable[[], None] | None = None

    # --- methods the app calls -----------------------------------------------------------

    def load(self, last_id: int | None = None) -> None:
        """Count everything up to `last_id` (default: the newest) and show the end."""
        self.last_id = self.reader.max_id() if last_id is None else last_id
        self.total = self.reader.count(self.state, 0, self.last_id)
        self._reset_window()
        self.following = True
        self._show_end()

    def set_filter(self, state: FilterState) -> None:
        """Show what `state` keeps, shown at the end.

        Level and source toggles are counted from the per-cell counts and their last page read from
        the newest row groups: a few ms, done here, so the next frame shows them. Anything else is
        counted and fetched in a worker thread; until then the view keeps showing (and scrolling)
        what the previous filter kept."""
        self._pending_state = state
        height = max(1, self.size.height)
        if self.counts is not None and state.toggles_only():
            try:
                loaded = self._read_filtered(self.reader, state, self.last_id, height)
            except duckdb.Error as exc:
                self._load_failed(state, one_line_error(exc))
                return
            self._show_loaded(state, *loaded)
            return
        self.filtering = True
        self._post_status()
        self._load_filtered(state, self.last_id, height)

    @work(thread=True, exclusive=True, group="filter")
    def _load_filtered(self, state: FilterState, last_id: int, height: int) -> None:
        reader = self.reader.for_thread()
        try:
            loaded = self._read_filtered(reader, state, last_id, height)
        except duckdb.Error as exc:
            self.app.call_from_thread(self._load_failed, state, one_line_error(exc))
            return
        finally:
            reader.close()
        self.app.call_from_thread(self._show_loaded, state, *loaded)

    def _read_filtered(
        self, reader: LogReader, state: FilterState, last_id: int, height: int
    ) -> tuple[int, int, int, list[Row]]:
        """The newest id counted, how many records `state` keeps, and the rows of the last window."""
        rows = state.in_place
        if rows is not None:  # the records not stored yet, read where the files lie
            if not rows.loaded.is_set():
                rows.load(reader, state)
            last_id = max(last_id, rows.last_id)
        kept = self.counts.kept(reader, state) if self.counts is not None else None
        if kept is not None:
            total, last_id = kept  # level and source toggles: counted per cell, no scan
        else:
            total = reader.count(state, 0, last_id)
        limit = (2 * WINDOW_SCREENS + 1) * height
        start = max(0, total - limit)
        return last_id, total, start, reader.page(state, start, limit, last_id, total)

    def _show_loaded(self, state: FilterState, last_id: int, total: int, start: int, rows: list[Row]) -> None:
        if state is not self._pending_state:
            return  # a newer filter is on its way
        self.state = state
        caught_up = self._latest_seen
        self.last_id, self.total = last_id, total
        self._window, self._window_start = rows, start
        self._window_as_of = (last_id, total)
        self.filtering = False
        self.following = True
        self._show_end()
        if caught_up > last_id:
            self.records_committed(caught_up)
        if self._search_when_loaded:
            self._search_when_loaded = False
            self.action_next_match(False)
        self.post_message(self.FilterLoaded(total))

    def _load_failed(self, state: FilterState, message: str) -> None:
        if state is self._pending_state:
            self.filtering = False
            self.post_message(self.FilterFailed(message))

    def set_search(self, match: TextMatch | None) -> None:
        """Highlight `match` and jump to the nearest hit (backwards when following)."""
        self.search = match
        self.search_place = None
        self.lines.search = match.compiled() if match else None
        self.lines.clear()
        self.refresh()
        if match is not None and self.filtering:
            self._search_when_loaded = True  # jump once the new filter's records are in
        elif match is not None:
            self.action_next_match(not self.following)

    def records_committed(self, last_id: int) -> None:
        """New records up to `last_id` are in the store: read those the filter keeps in a worker
        thread (at most every LIVE_SECONDS), then count and show them."""
        self._latest_seen = max(self._latest_seen, last_id)
        if self.state.in_place is not None:  # held rows the store now has all of are let go
            self.state.in_place.release_if_stored(last_id)
        if self.filtering or self._live_reading or self._latest_seen <= self.last_id:
            return  # a filter being loaded, or the read under way, catches up when it is shown
        self._live_reading = True
        keep = self._window_size() if self.following else 0
        self._read_live(self.state, self.last_id, keep, self._live_due)

    @work(thread=True, group="live")
    def _read_live(self, state: FilterState, after_id: int, keep: int, due: float) -> None:
        time.sleep(max(0.0, due - time.monotonic()))
        upto = self._latest_seen
        reader = self.reader.for_thread()
        try:
            if state.time_range.last_us is not None:
                # "The last 15m" moves with the newest record: older records drop out, so recount.
                update = LiveUpdate(upto, total=reader.count(state, 0, upto))
            else:
                added, earliest = reader.count_new(state, after_id, upto)
                rows = reader.newest_rows(state, after_id, upto, keep) if added and keep else []
                update = LiveUpdate(upto, added, earliest, tuple(rows))
        except duckdb.Error:
            update = None  # the filter fails only now; its own load shows why
        finally:
            reader.close()
        self.app.call_from_thread(self._apply_live, state, after_id, update)

    def _apply_live(self, state: FilterState, after_id: int, update: LiveUpdate | None) -> None:
        self._live_reading = False
        self._live_due = time.monotonic() + LIVE_SECONDS
        if update is not None and state is self.state and after_id == self.last_id and not self.filtering:
            self._show_update(update)
        if self._latest_seen > self.last_id:
            self.records_committed(self._latest_seen)

    def _show_update(self, update: LiveUpdate) -> None:
        previous_total = self.total
        self.last_id = update.upto
        self.file_ends = []  # (the records stored take their place)
        if update.total is not None:
            self.total = update.total
            self._size_to_total()
            self._reset_window()
            if self.following:
                self._show_end()
            else:
                self._post_status()
            return
        if not update.added:
            return
        self.total += update.added
        self._size_to_total()
        if not self.following:
            self._post_status()
            return
        appended = update.rows and self._append_rows(previous_total, update.earliest, update.rows)
        if not appended:
            self._reset_window()
        self._show_end()

    def _window_size(self) -> int:
        return (2 * WINDOW_SCREENS + 1) * max(1, self.size.height)

    def _append_rows(self, previous_total: int, earliest: int, rows: Sequence[Row]) -> bool:
        """Extend the fetched rows with the newest of the records added after `previous_total` when they
        all sort after them (the usual case: reading only the new ids is much cheaper than a page
        from the end of millions of rows)."""
        window = self._window
        if not window or self._window_start + len(window) != previous_total or earliest < window[-1].ts:
            return False
        window = (window + list(rows))[-self._window_size() :]
        self._window, self._window_start = window, self.total - len(window)
        self._window_as_of = (self.last_id, self.total)
        return True

    @property
    def empty_status(self) -> str:
        """The status line's count while there is no record to show."""
        if self.file_ends and not self.last_id:
            return "the files' ends as read · storing their records…"
        return "no records"

    def current_row(self) -> Row | None:
        return self._row(self.cursor) if 0 <= self.cursor < self.total else None

    def rows_on_screen(self) -> list[Row]:
        """The rows in the viewport, top to bottom (for tests and the status line)."""
        indices = dict.fromkeys(index for index, _ in self._screen_layout())
        return [row for index in indices if (row := self._row(index))]

    def set_sources(self, sources: list[str]) -> None:
        """The sources there are: each line names its source by what tells it from the others."""
        if self.lines.set_sources(sources):
            self.refresh()

    # --- actions -------------------------------------------------------------------------

    def move_to(self, index: int) -> None:
        """Put the cursor on row `index` (pausing following unless it is the last)."""
        self._move_cursor(index)

    def action_cursor(self, delta: int) -> None:
        self._move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_cursor(self.cursor + direction * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_follow(self) -> None:
        self.following = True
        if not self._catch_up_window():
            self._reset_window()
        self._show_end()

    def _catch_up_window(self) -> bool:
        """Bring the held rows to the end by reading only the ids committed since they were read."""
        as_of_id, as_of_total = self._window_as_of
        if not self._window or self.state.time_range.last_us is not None:
            return False
        if as_of_id == self.last_id:
            return self._window_start + len(self._window) == self.total
        added, earliest = self.reader.count_new(self.state, as_of_id, self.last_id)
        if added != self.total - as_of_total:
            return False
        rows = self.reader.newest_rows(self.state, as_of_id, self.last_id, self._window_size())
        return self._append_rows(as_of_total, earliest, rows)

    def action_choose(self) -> None:
        row = self.current_row()
        if row is not None:
            self.post_message(self.RecordChosen(row))

    # --- internals -----------------------------------------------------------------------

    def _move_cursor(self, index: int) -> None:
        if self.total == 0:
            return
        index = max(0, min(self.total - 1, index))
        if self.following and index != self.total - 1:
            self.following = False
        self.cursor = index
        height = max(1, self.scrollable_content_region.height)
        if index < self.scroll_y:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif self.variable_heights:
            if index not in self._fully_shown():
                self.scroll_to(y=self._top_showing(index), animate=False, immediate=True)
        elif index >= self.scroll_y + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)
        self._post_status()

    def _show_end(self) -> None:
        self._size_to_total()
        self.cursor = self.total - 1
        height = max(1, self.scrollable_content_region.height)
        top = self._top_showing(self.total - 1) if self.variable_heights else max(0, self.total - height)
        self.scroll_to(y=top, animate=False, immediate=True)
        self.refresh()
        self._post_status()

    def _size_to_total(self) -> None:
        """Make the scrollable height `total` rows without laying out the screen again.

        Assigning `virtual_size` lays out every widget (~10-20 ms, on every live update); the view's
        own size does not depend on it, so only its scrollbar is updated, as ScrollView does when
        its container resizes (which lays out only when the scrollbar appears or goes)."""
        # Wrapping, any record may be the top one: the last may need the whole screen.
        extra = max(0, self.scrollable_content_region.height - 1) if self.variable_heights else 0
        size = Size(0, self.total + extra)
        if size != self.virtual_size:
            self.set_reactive(LogView.virtual_size, size)
            self._scroll_update(size)

    def _post_status(self) -> None:
        if self.status_listener is not None:
            self.status_listener()
        else:
            self.post_message(self.StatusChanged(self.total, self.cursor, self.following))

    def _reset_window(self) -> None:
        """Forget the fetched rows (their rendered lines stay cached by record id)."""
        self._window = []
        self._window_start = 0
        self._window_as_of = (0, -1)

    def _row(self, index: int) -> Row | None:
        if index < 0 or index >= self.total:
            return None
        offset = index - self._window_start
        if not 0 <= offset < len(self._window):
            start = max(0, index - WINDOW_SCREENS * max(1, self.size.height))
            limit = self._window_size()
            self._window = self.reader.page(self.state, start, limit, self.last_id, self.total)
            self._window_start = start
            self._window_as_of = (self.last_id, self.total)
            offset = index - start
            if not 0 <= offset < len(self._window):
                return None
        return self._window[offset]

    def on_click(self, event: events.Click) -> None:
        """A click selects the line; a double click opens it."""
        layout = self._screen_layout()
        index = layout[event.y][0] if 0 <= event.y < len(layout) else -1
        if 0 <= index < self.total:
            self._move_cursor(index)
            if event.chain >= 2:
                self.action_choose()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.following and new < old and new < self.max_scroll_y:
            self.following = False
            self._post_status()

    def watch_following(self, following: bool) -> None:
        self.set_class(not following, "-paused")

    def watch_cursor(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self._size_to_total()
        self._reset_window()
        cache_size = STRIP_CACHE_SCREENS * max(1, self.size.height)
        self.lines.resize(self.scrollable_content_region.width, cache_size)
        if self.following:
            self._show_end()
