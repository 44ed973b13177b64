"""`P`: the log patterns of the stored records by count, with a trend and when each was first
seen. Enter shows only that pattern's records in the log view; `h` hides (or shows again) a
pattern's records there (docs/tui.md)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import duckdb
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

if TYPE_CHECKING:
    from logscope.tui.app import LogscopeApp

TREND_BUCKETS = 16
LIMIT = 500
COLUMNS = ("", "id", "count", "trend", "first seen", "template")


@dataclasses.dataclass(frozen=True)
class PatternLine:
    id: int
    count: int
    trend: list[int]
    first_seen_us: int | None
    template: str


def read_patterns(cursor: duckdb.DuckDBPyConnection) -> list[PatternLine]:
    """Every pattern of the stored records by count (at most LIMIT), with a trend over their time."""
    if not cursor.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'record_patterns'"
    ).fetchone()[0]:
        return []
    from logscope.store.patterns import PatternQuery, listing_sql  # (pyarrow: when first opened)

    sql = listing_sql(PatternQuery(limit=LIMIT, buckets=TREND_BUCKETS))
    lines = []
    for pattern_id, count, points, first_seen, _last, template, _example in cursor.execute(sql).fetchall():
        trend = [0] * TREND_BUCKETS
        for point in points:
            trend[int(point["bucket"])] = int(point["n"])
        first_us = int(first_seen.timestamp() * 1_000_000) if first_seen is not None else None
        lines.append(PatternLine(pattern_id, count, trend, first_us, template))
    return lines


class PatternsScreen(Screen[None]):
    """The app's reader fills it when it opens and on `r`."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,P", "app.pop_screen", "Back to logs"),
        Binding("h", "hide", "Hide / show in the log view"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, zone: tzinfo = UTC) -> None:
        super().__init__()
        self.zone = zone
        self.lines: list[PatternLine] = []

    @property
    def logscope(self) -> LogscopeApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Label("Log patterns: messages with their variable parts as <*>, by count", classes="title")
        yield DataTable(id="patterns-table", zebra_stripes=True, cursor_type="row")
        yield Label(
            "Enter: only this pattern in the log view · h: hide / show it there · r: reload",
            id="patterns-help",
        )
        yield Footer()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        try:
            self.lines = read_patterns(self.logscope.reader.cursor)
        except duckdb.Error as exc:
            self.notify(f"patterns: {' '.join(str(exc).split())}", severity="error")
            self.lines = []
        self._fill()

    def _fill(self) -> None:
        from logscope.commands.patterns import sparkline
        from logscope.tui.rendering import format_time

        table = self.query_one(DataTable)
        row = table.cursor_row
        hidden = self.logscope.filter_state.hidden_patterns
        rows = [
            (
                "hidden" if line.id in hidden else "",
                str(line.id),
                f"{line.count:,}",
                sparkline(line.trend),
                format_time(line.first_seen_us, self.zone) if line.first_seen_us is not None else "",
                line.template,
            )
            for line in self.lines
        ]
        table.clear(columns=True)
        for index, name in enumerate(COLUMNS):
            width = max([len(name), *(len(r[index]) for r in rows)]) if index < len(COLUMNS) - 1 else None
            if index == 0:
                width = len("hidden")  # the same table whether a pattern is hidden or not
            table.add_column(name, width=width)
        for line, cells in zip(self.lines, rows, strict=True):
            table.add_row(*cells, key=str(line.id))
        if rows:
            table.move_cursor(row=min(max(row, 0), len(rows) - 1))
        else:
            table.add_row("", "", "", "", "", "no patterns yet: records are mined as they are stored")

    def _chosen(self) -> PatternLine | None:
        table = self.query_one(DataTable)
        if not self.lines or table.cursor_row < 0 or table.cursor_row >= len(self.lines):
            return None
        return self.lines[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        line = self._chosen()
        if line is None:
            return
        app = self.logscope
        app.back_to_main()
        state = app.filter_state.with_changes(pattern=line.id, label=f"pattern {line.id}: {line.template}")
        app.apply_filter(state)
        app.main.set_focus(app.log_view)

    def action_hide(self) -> None:
        line = self._chosen()
        if line is None:
            return
        app = self.logscope
        hidden = set(app.filter_state.hidden_patterns) ^ {line.id}
        app.apply_filter(app.filter_state.with_changes(hidden_patterns=frozenset(hidden)))
        self._fill()
