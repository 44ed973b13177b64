"""Completion of table and column names in the SQL box, as lnav completes them: the rest of the
name shows dimmed after the cursor; Tab (or →) takes it."""

from __future__ import annotations

import re
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.suggester import Suggester

from logscope.tui.history_input import HistoryInput
from logscope.tui.log_reader import LogReader

# The word being typed at the end of the box, and the keyword before it (if any).
_LAST_WORD = re.compile(r"(?:\b(\w+)\s+)?([A-Za-z_]\w*)$")
# After these a table name comes; elsewhere a column name first.
TABLE_KEYWORDS = frozenset({"from", "join", "into", "update", "table", "describe", "summarize"})


def complete(value: str, tables: list[str], columns: list[str]) -> str | None:
    """`value` with the name its last word begins completed, or None when none fits."""
    found = _LAST_WORD.search(value)
    if found is None:
        return None
    before, word = found.group(1), found.group(2)
    names = tables + columns if (before or "").lower() in TABLE_KEYWORDS else columns + tables
    lowered = word.lower()
    for name in names:
        if name.lower().startswith(lowered) and len(name) > len(word):
            return value + name[len(word) :]
    return None


class SqlNames(Suggester):
    """Suggests the tables, views and columns the database has (read again each time the SQL
    screen opens: a format's view appears with its first record)."""

    def __init__(self, reader: LogReader) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.reader = reader
        self.tables: list[str] = []
        self.columns: list[str] = []

    def read_names(self) -> None:
        self.tables, self.columns = self.reader.sql_names()

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, self.tables, self.columns)


class SqlInput(HistoryInput):
    """The SQL box: history on Up/Down, names completed with Tab."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("tab", "complete", "Complete", show=False)]

    def action_complete(self) -> None:
        """Take the suggested name; without one, Tab moves the focus on as usual."""
        if self.cursor_at_end and self._suggestion:
            self.action_cursor_right()
        else:
            self.screen.focus_next()
