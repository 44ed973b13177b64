"""The SQL screen: DuckDB SQL over the store, run off the UI thread, results in a table."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import ClassVar

import duckdb
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from logscope.tui.history import History
from logscope.tui.history_input import HistoryInput
from logscope.tui.in_place_rows import importing
from logscope.tui.log_reader import LogReader, one_line_error
from logscope.tui.sql_completion import SqlInput, SqlNames

MAX_ROWS = 1000
MAX_COLUMN_WIDTH = 60
EXAMPLE = "SELECT level, count(*) FROM logs GROUP BY level ORDER BY 2 DESC"


def cell(value: object) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


class SqlScreen(Screen[None]):
    """Type a statement, Enter runs it; Up/Down recall earlier ones; Tab completes a table or
    column name; Escape goes back."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back to logs")]

    def __init__(self, reader: LogReader, history: History | None = None) -> None:
        super().__init__()
        self.reader = reader
        self.history = history
        self.running = False
        self.last_seconds = 0.0
        self.names = SqlNames(reader)

    def compose(self) -> ComposeResult:
        yield Label(
            "SQL over the logs table (DuckDB) · Enter runs · ↑/↓ history · Tab completes", id="sql-title"
        )
        recalled = self.history.of("sql") if self.history is not None else None
        yield SqlInput(placeholder=EXAMPLE, id="sql-input", history=recalled, suggester=self.names)
        yield Label("", id="sql-status")
        yield DataTable(id="sql-results", zebra_stripes=True)
        yield Footer()

    def on_screen_resume(self) -> None:
        with contextlib.suppress(duckdb.Error):  # no completion this time; the box still works
            self.names.read_names()

    def on_mount(self) -> None:
        # A key right after `q` can push this screen while the app shuts down, uncomposed.
        for box in self.query(HistoryInput):
            box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        sql = event.value.strip() or EXAMPLE
        box = self.query_one(HistoryInput)
        if box.remember(sql) and self.history is not None:
            self.history.save()
        box.value = sql
        self.show_status("running…", error=False)
        self.running = True
        self.run_query(sql)

    @work(thread=True, exclusive=True, group="sql")
    def run_query(self, sql: str) -> None:
        reader = self.reader.for_thread()
        started = time.perf_counter()
        try:
            answered = self._in_place(sql)
            columns, rows, more = answered or reader.run_sql(sql, MAX_ROWS)
        except duckdb.Error as exc:
            self.app.call_from_thread(self.show_error, one_line_error(exc))
            return
        finally:
            reader.close()
        seconds = time.perf_counter() - started
        where = " · over the whole file, read in place (the import is behind)" if answered else ""
        self.app.call_from_thread(self.show_results, columns, rows, more, seconds, where)

    def _in_place(self, sql: str) -> tuple[list[str], list[tuple], bool] | None:
        """`sql` over the files being imported, where they lie, while the import is behind (the
        tables of the store other than `logs` and the format views are not there: None then)."""
        catch_up, feed = getattr(self.app, "catch_up", None), getattr(self.app, "feed", None)
        if catch_up is None or importing(feed) is None:
            return None
        from logscope.pipeline.catch_up import Closed

        try:
            return catch_up.run_sql(feed.pipeline.registry, feed.pipeline.forced, sql, MAX_ROWS)
        except (duckdb.CatalogException, Closed):
            return None

    def show_results(
        self, columns: list[str], rows: list[tuple], more: bool, seconds: float, where: str = ""
    ) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        cells = [[cell(value) for value in row] for row in rows]
        # Widths from the cells themselves, so the table is laid out once, fully, right away.
        for index, name in enumerate(columns):
            width = max([len(name), *(len(row[index]) for row in cells)])
            table.add_column(name, width=min(width, MAX_COLUMN_WIDTH))
        table.add_rows(cells)
        shown = f"first {len(rows):,} rows" if more else f"{len(rows):,} row{'s' if len(rows) != 1 else ''}"
        self.show_status(shown + where, error=False)
        self.last_seconds = seconds
        self.running = False

    def show_error(self, message: str) -> None:
        self.query_one(DataTable).clear(columns=True)
        self.show_status(message, error=True)
        self.running = False

    def show_status(self, message: str, error: bool) -> None:
        status = self.query_one("#sql-status", Label)
        status.update(message)
        status.set_class(error, "-error")
