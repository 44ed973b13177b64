"""The log view's jumps: to the next search match (counted), and to the next error or warning."""

from __future__ import annotations

import duckdb
from textual import work
from textual.message import Message

from logscope.tui.filters import FilterState, TextMatch
from logscope.tui.log_reader import LogReader, one_line_error

# What e/E and w/W stop at, as lnav does: errors and worse, warnings.
LEVELS_FROM = {"error": ("error", "critical", "fatal"), "warning": ("warning",)}


class SearchJumps:
    """Mixed into LogView: finds run in worker threads, the cursor moves when they are back."""

    reader: LogReader
    state: FilterState
    search: TextMatch | None
    search_place: tuple[int | None, int] | None
    last_id: int

    def action_next_match(self, forward: bool) -> None:
        if self.search is None:
            return
        row = self.current_row()
        ts, record_id = (row.ts, row.id) if row else ((-(2**62), 0) if forward else (2**62, 2**62))
        self._find_match(self.state, self.search, ts, record_id, forward, self.last_id)

    def action_next_level(self, level: str, forward: bool) -> None:
        """lnav's e/E and w/W: the next (previous) error (or worse) or warning in the view."""
        row = self.current_row()
        if row is None:
            return
        levels = LEVELS_FROM[level]
        condition = (f"level IN ({', '.join('?' * len(levels))})", list(levels))
        self._find_level(self.state, condition, level, row.ts, row.id, forward, self.last_id)

    @work(thread=True, exclusive=True, group="search")
    def _find_level(
        self,
        state: FilterState,
        condition: tuple,
        level: str,
        ts: int,
        record_id: int,
        forward: bool,
        upto: int,
    ) -> None:
        reader = self.reader.for_thread()
        try:
            found = reader.find(state, condition, ts, record_id, forward, upto)
            index = reader.position(state, *found, upto) if found else None
        except duckdb.Error:
            return
        finally:
            reader.close()
        self.app.call_from_thread(self._jump_to_level, state, level, forward, index)

    def _jump_to_level(self, state: FilterState, level: str, forward: bool, index: int | None) -> None:
        if state is not self.state:
            return
        if index is None:
            where = "below" if forward else "above"
            self.app.notify(f"no {'error' if level == 'error' else 'warning'} {where}", timeout=2)
            return
        self._move_cursor(index)

    @work(thread=True, exclusive=True, group="search")
    def _find_match(
        self, state: FilterState, match: TextMatch, ts: int, record_id: int, forward: bool, upto_id: int
    ) -> None:
        """Find the next match in that direction and its position, off the UI thread; at the last
        (or first) match stay there and say so, as lnav does, instead of turning back."""
        reader = self.reader.for_thread()
        try:
            hits = reader.count_matches(state, match, upto_id)
            found = reader.find(state, match, ts, record_id, forward, upto_id) if hits else None
            index = ordinal = None
            if found is not None:
                index = reader.position(state, *found, upto_id)
                ordinal = reader.count_matches(state, match, upto_id, before=found) + 1
        except duckdb.Error as exc:
            self.app.call_from_thread(self.post_message, self.FilterFailed(one_line_error(exc)))
            return
        finally:
            reader.close()
        result = self.SearchResult(match.pattern, hits, ordinal, forward)
        self.app.call_from_thread(self._jump_to_match, state, match, index, result)

    def _jump_to_match(
        self, state: FilterState, match: TextMatch, index: int | None, result: Message
    ) -> None:
        if state is not self.state or match is not self.search:
            return  # the filter or the search changed meanwhile
        if result.ordinal is not None or not result.hits:
            self.search_place = (result.ordinal, result.hits)
        self.post_message(result)
        if index is not None:
            self._move_cursor(index)

    def action_toggle_mark(self) -> None:
        """lnav's `m`: mark (or unmark) the line under the cursor."""
        row = self.current_row()
        if row is None:
            return
        marks = self.lines.marks
        if marks.pop(row.id, None) is None:
            marks[row.id] = row.ts
        self.lines.clear()
        self.refresh()

    def action_next_mark(self, forward: bool) -> None:
        """lnav's `u` / `U`: the next (previous) marked line in the view."""
        row = self.current_row()
        if row is None or not self.lines.marks:
            return
        here = (row.ts, row.id)
        ahead = [(ts, mark) for mark, ts in self.lines.marks.items() if ((ts, mark) > here) == forward]
        ahead = [place for place in ahead if place != here]
        if not ahead:
            self.app.notify(f"no mark {'below' if forward else 'above'}", timeout=2)
            return
        ts, mark = min(ahead) if forward else max(ahead)
        self._move_cursor(self.reader.position(self.state, ts, mark, self.last_id))


def search_place(place: tuple[int | None, int] | None) -> str:
    """` (3/12)`: which match the cursor is on, of how many."""
    if place is None:
        return ""
    ordinal, hits = place
    if not hits:
        return " (no match)"
    return f" ({ordinal:,}/{hits:,})" if ordinal is not None else f" ({hits:,} matches)"
