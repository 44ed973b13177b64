"""The logscope app: log view, filter bar, alerts and sources beside it, SQL and overview screens."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, ClassVar

import duckdb
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from logscope.tui.alert_records import bundled_rules, window_filter
from logscope.tui.alerts_panel import NAME_COLUMNS as ALERT_NAME_COLUMNS
from logscope.tui.alerts_panel import (
    PREDICATE_COLUMNS,
    AlertsPanel,
    alert_group_predicate,
    alert_record_ids,
    pick,
)
from logscope.tui.app_start import StartUp
from logscope.tui.change_markers import ChangeMarker, marked_records, read_markers
from logscope.tui.compare_screen import CompareScreen
from logscope.tui.detail_screen import DetailScreen
from logscope.tui.error_chart import ErrorRateChart
from logscope.tui.filter_bar import FilterBar
from logscope.tui.filters import (
    LEVEL_CHOICES,
    FilterError,
    FilterState,
    looks_like_sql,
    parse_time_range,
    text_match,
)
from logscope.tui.history import History
from logscope.tui.in_place_rows import in_place_status, with_in_place
from logscope.tui.level_toggles import LevelToggles
from logscope.tui.live import LiveFeed, stored_sources
from logscope.tui.log_reader import Histogram, LogReader, SourceCounts
from logscope.tui.log_search import search_place
from logscope.tui.log_view import LogView
from logscope.tui.messages import RecordsCommitted, SourceError
from logscope.tui.overview_screen import OverviewScreen
from logscope.tui.palette_actions import ACTIONS, MAIN_ACTIONS, ScreenActions, ViewActions
from logscope.tui.patterns_screen import PatternsScreen
from logscope.tui.predicate import with_typed_fields
from logscope.tui.source_toggles import SourceToggles
from logscope.tui.sql_screen import SqlScreen

NEIGHBOURS = 5
# Narrower terminals start without the side panel (alerts, sources): the log lines need the room.
WIDE_ENOUGH_FOR_SIDEBAR = 100


class LogscopeApp(StartUp, ViewActions, ScreenActions, App[None]):
    """Reads what the pipeline commits from DuckDB; the pipeline runs in its own threads."""

    CSS_PATH = "app.tcss"
    TITLE = "logscope"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("f", "focus_filter", "Filter"),
        Binding("t", "focus_time_range", "Time", show=False),
        Binding("ctrl+g", "goto", "Go to time", show=False),
        Binding("slash", "search", "Search"),
        Binding("c", "clear_filters", "Clear"),
        Binding("a", "focus_alerts", "Alerts"),
        Binding("l", "focus_sources", "Sources", show=False),
        Binding("b", "toggle_sidebar", "Panel", show=False),
        Binding("s", "sql", "SQL"),
        Binding("o", "overview", "Overview"),
        Binding("P", "patterns", "Patterns"),
        Binding("D", "compare", "Compare", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("escape", "focus_log", "Log view", show=False),
        *(
            Binding(str(number), f"toggle_level('{level}')", f"Toggle {level}", show=False)
            for number, level in enumerate(LEVEL_CHOICES, start=1)
        ),
    ]

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        feed: LiveFeed | None = None,
        zone: tzinfo = UTC,
        poll_seconds: float = 1.0,
        subtitle: str = "",
        freeze_heap: bool = False,
        history_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.history = History(history_path)  # filter, search and SQL boxes, across runs
        self.freeze_heap = freeze_heap
        self.reader = LogReader(con)
        self.feed = feed
        self.zone = zone
        self.poll_seconds = poll_seconds
        self.sub_title = subtitle
        self.filter_state = FilterState()
        self._field_types: dict[str, str] | None = None
        self.ingest_rate: float | None = None
        self.alerts_available = False
        self.polls = 0
        self.source_counts = SourceCounts()
        self._status_text = ""
        self._sidebar_chosen: bool | None = None  # shown or hidden with `b` (else by the width)
        self.firing = 0
        self._early_keys: list[events.Key] | None = []  # keys typed before the log view had focus

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield FilterBar(id="filter-bar")
        with Horizontal(id="body"):
            yield LogView(self.reader, self.zone, self.source_counts, self.file_ends, id="log-view")
            with Vertical(id="sidebar"):
                yield AlertsPanel(self.zone, id="alerts")
                yield SourceToggles(id="sources")
        yield Label("", id="status")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        """The side panel takes too much of a narrow terminal: hidden there until `b` or `a`."""
        if self._sidebar_chosen is None and self.screen_stack:
            self.main.query_one("#sidebar").display = event.size.width >= WIDE_ENOUGH_FOR_SIDEBAR

    def on_mount(self) -> None:
        self.main.query_one("#sources", SourceToggles).border_title = "Sources"
        self.filter_bar.use_history(self.history)
        self.install_screen(SqlScreen(self.reader, self.history), "sql")
        self.install_screen(OverviewScreen(self.zone), "overview")
        self.install_screen(PatternsScreen(self.zone), "patterns")
        self.install_screen(CompareScreen(), "compare")
        self.log_view.status_listener = self._update_status
        self.log_view.load()
        self.log_view.focus()
        if self.feed is not None:
            self.feed.connect(self._notify_committed)
        self.poll_now()
        if self.poll_seconds > 0:
            self.set_interval(self.poll_seconds, self.poll)
        if self.freeze_heap:
            self.call_after_refresh(self._freeze_heap)
        if self.when_drawn is not None:
            self.call_after_refresh(self.when_drawn)
        self.call_after_refresh(self._start_replaying_early_keys)

    @staticmethod
    def _freeze_heap() -> None:
        """Leave the objects alive once the screen is up (modules, widgets, the pipeline) out of
        every later garbage collection: a full collection walks every tracked object while holding
        the GIL, which stalled the whole app for ~80 ms about once a second at 20,000 lines/s."""
        gc.collect()
        gc.freeze()

    @property
    def main(self) -> Screen:
        """The screen with the log view (at the bottom of the stack)."""
        return self.screen_stack[0]

    def back_to_main(self) -> None:
        """Close the screens above the log view."""
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys for the log view act only while it is on top (other screens have their own)."""
        return action not in MAIN_ACTIONS or self.screen is self.main

    @property
    def log_view(self) -> LogView:
        return self.main.query_one("#log-view", LogView)

    @property
    def filter_bar(self) -> FilterBar:
        return self.main.query_one("#filter-bar", FilterBar)

    # --- from the pipeline (writer thread) --------------------------------------------------

    def _notify_committed(self, last_id: int) -> None:
        self.post_message(RecordsCommitted(last_id))

    def on_records_committed(self, message: RecordsCommitted) -> None:
        if not self.screen_stack or not self.main.query("#log-view"):
            return  # the app is shutting down
        self.log_view.records_committed(message.last_id)

    def report_error(self, text: str) -> None:
        """Show a source's error as a notification; safe to call from any thread."""
        self.post_message(SourceError(text))

    def on_source_error(self, message: SourceError) -> None:
        self.notify(message.text, title="source error", severity="error", timeout=10)

    # --- periodic: alerts, sources, overview (read in a worker thread) ----------------------

    def poll(self) -> None:
        self.poll_worker(self._histogram_request())

    def _histogram_request(self) -> tuple[FilterState, int, tuple[int, int] | None] | None:
        """What the overview's charts need (filter, bars, zoomed window), read on the UI thread;
        None if closed."""
        overview = self._overview_screen()
        if overview is None or not overview.composed:
            return None
        return self.filter_state, overview.histogram_columns, overview.window

    @work(thread=True, exclusive=True, group="poll")
    def poll_worker(self, histogram_request: tuple | None) -> None:
        reader = self.reader.for_thread()
        try:
            snapshot = self._read_snapshot(reader, histogram_request)
        except duckdb.Error:
            return
        finally:
            reader.close()
        self.call_from_thread(self._apply_snapshot, *snapshot)

    def poll_now(self) -> None:
        """Read alerts, sources and the overview on this thread (at start, and from tests)."""
        self._apply_snapshot(*self._read_snapshot(self.reader, self._histogram_request()))
        if self.feed is not None:
            self.log_view.records_committed(self.feed.last_id)

    def _read_snapshot(self, reader: LogReader, histogram_request: tuple | None):
        """Alerts, source counts and the chart's data (this runs in a worker thread)."""
        alerts_available = bool(reader.alert_columns())
        alerts = reader.alerts() if alerts_available else []
        counts = self.source_counts.read(reader)
        histogram = reader.histogram(*histogram_request) if histogram_request else None
        offsets = reader.checkpoint_offsets() if histogram_request else {}
        return alerts_available, alerts, counts, histogram, offsets, read_markers(reader)

    def _overview_screen(self) -> OverviewScreen | None:
        screen = self.screen
        return screen if isinstance(screen, OverviewScreen) else None

    def _apply_snapshot(
        self,
        alerts_available: bool,
        alerts: list[dict[str, Any]],
        counts: dict[str, int],
        histogram: Histogram | None,
        offsets: dict[tuple[int, int], int],
        markers: list[ChangeMarker],
    ) -> None:
        if not self.main.query("#alerts"):
            return  # the app is shutting down
        if self.log_view.lines.set_change_markers(marked_records(markers)):
            self.log_view.refresh()
        self.polls += 1
        self.alerts_available = alerts_available
        self.log_view.set_sources(list(counts))
        panel = self.main.query_one("#alerts", AlertsPanel)
        panel.show_alerts(alerts, alerts_available, self.log_view.lines.labels)
        self.main.query_one("#sources", SourceToggles).show_sources(counts)
        if self.feed is not None:
            sources, self.ingest_rate = self.feed.sample(counts, offsets)
        else:
            sources = stored_sources(counts, offsets)  # (browsing, or before the pipeline is up)
        overview = self._overview_screen()
        if overview is not None:
            overview.show_histogram(histogram, alerts, markers)
            overview.show_sources(sources, self.ingest_rate, sum(counts.values()))
        self._update_status()

    # --- messages from the widgets ----------------------------------------------------------

    def on_log_view_status_changed(self, message: LogView.StatusChanged) -> None:
        self._update_status()

    def on_log_view_record_chosen(self, message: LogView.RecordChosen) -> None:
        self.show_detail(message.row.id)

    def on_log_view_filter_loaded(self, message: LogView.FilterLoaded) -> None:
        self._update_status()

    def on_log_view_filter_failed(self, message: LogView.FilterFailed) -> None:
        self.filter_bar.show_error(message.message)
        self.filter_state = self.log_view.state  # the view still shows the last filter that ran
        self.filter_bar.levels.show_hidden(self.filter_state.hidden_levels)
        self._update_status()

    def on_log_view_search_result(self, message: LogView.SearchResult) -> None:
        self._update_status()
        if not message.hits:
            self.notify(f"no match for {message.text!r}", severity="warning", timeout=3)
        elif not message.found:
            last, back = ("last", "N goes back") if message.forward else ("first", "n goes on")
            count = f"{message.hits:,} {'match' if message.hits == 1 else 'matches'}"
            self.notify(f"{last} match for {message.text!r} ({count}) · {back}", timeout=3)

    def on_filter_bar_filter_submitted(self, message: FilterBar.FilterSubmitted) -> None:
        try:
            state = self._filter_from(message.text, message.time_range)
        except FilterError as exc:
            self.filter_bar.show_error(str(exc))
            return
        self.filter_bar.show_error(None)
        self.main.set_focus(self.log_view)  # now: the next key is for the view, not the bar
        self.apply_filter(state)

    def on_filter_bar_search_submitted(self, message: FilterBar.SearchSubmitted) -> None:
        try:
            match = text_match(message.text) if message.text else None
        except FilterError as exc:
            self.filter_bar.show_error(str(exc))
            return
        self.filter_bar.show_error(None)
        self.main.set_focus(self.log_view)
        self.log_view.set_search(match)

    def on_level_toggles_toggled(self, message: LevelToggles.Toggled) -> None:
        self.action_toggle_level(message.level)

    def on_source_toggles_hidden_changed(self, message: SourceToggles.HiddenChanged) -> None:
        self.apply_filter(self.filter_state.with_changes(hidden_sources=message.hidden))

    def on_error_rate_chart_bucket_chosen(self, message: ErrorRateChart.BucketChosen) -> None:
        """Enter on a bucket of the overview's chart: the log view at its first record."""
        self.back_to_main()
        view = self.log_view
        index = self.reader.position(view.state, message.start_us, 0, view.last_id)
        view.move_to(max(0, min(index, view.total - 1)))

    def on_overview_screen_zoomed(self, message: OverviewScreen.Zoomed) -> None:
        self.poll()

    def on_alerts_panel_alert_chosen(self, message: AlertsPanel.AlertChosen) -> None:
        self.filter_to_alert(message.alert)

    # --- what the view shows ----------------------------------------------------------------

    def _filter_from(self, text: str, time_range: str) -> FilterState:
        predicate, match = None, None
        if text:
            try:
                predicate = self._predicate(text)
            except FilterError:
                if looks_like_sql(text):
                    raise
                match = text_match(text)
        return self.filter_state.with_changes(
            predicate=predicate,
            typed=text or None,
            time_text=time_range,
            text=match,
            time_range=parse_time_range(time_range, self.zone),
            record_ids=None,
            label=None,
        )

    def _predicate(self, text: str) -> str:
        """The SQL for a typed predicate: bare field names read as in rules (`status = 503`), typed
        by their format, else as their stored values are (`duration_ms > 800` on JSON lines); a
        name no record carries only in text that is plainly SQL (`user=bob` stays text)."""
        sql, _ = with_typed_fields(
            self.reader.cursor,
            text,
            self.field_types,
            untyped=looks_like_sql(text),
            stored_type=self.reader.field_type,
        )
        self.reader.check_predicate(sql)
        return sql

    def apply_filter(self, state: FilterState) -> None:
        state = with_in_place(state, self.catch_up, self.feed)  # the import behind: the whole file
        self.filter_state = state
        self.filter_bar.levels.show_hidden(state.hidden_levels)
        self.log_view.set_filter(state)
        self._update_status()

    def filter_to_alert(self, alert: dict[str, Any]) -> None:
        """Show the records behind an alert: its example ids, else the records of its group."""
        name = pick(alert, ALERT_NAME_COLUMNS, "alert")
        ids = alert_record_ids(alert)
        window = window_filter(alert, bundled_rules(), self.field_types, self.reader.cursor, self.zone)
        if window is not None:
            state = window
            self.filter_bar.set_filter_text(window.typed or "", window.time_text)
        elif ids:
            records = f"{len(ids)} {'record' if len(ids) == 1 else 'records'}"
            state = FilterState(record_ids=tuple(ids), label=f"alert {name}: {records}")
            self.filter_bar.set_filter_text("")
        else:
            predicate = pick(alert, PREDICATE_COLUMNS) or alert_group_predicate(alert)
            if not predicate or not self.reader.is_predicate(str(predicate)):
                self.notify(f"alert {name} names no records", severity="warning")
                return
            state = FilterState(predicate=str(predicate), label=f"alert {name}")
            self.filter_bar.set_filter_text(str(predicate))
        self.apply_filter(state)
        self.main.set_focus(self.log_view)

    def show_detail(self, record_id: int) -> None:
        record = self.reader.record(record_id, self.log_view.state)
        if record is None:
            return
        before, after = self.reader.neighbours(record["source"], record["ts_us"], record_id, NEIGHBOURS)
        self.push_screen(DetailScreen(record, before, after, self.zone))

    def _update_status(self) -> None:
        if not self.screen_stack or not self.main.query("#status"):
            return  # the app is shutting down
        view = self.log_view
        state = "▶ following" if view.following else "⏸ paused · End resumes"
        parts = [
            "… filtering" if view.filtering else state,
            f"{view.cursor + 1:,}/{view.total:,}" if view.total else view.empty_status,
        ]
        parts.append(in_place_status(view.state, self.feed, self.catch_up))
        described = self.filter_state.describe()
        if described:
            parts.append(f"filter: {described}")
        if view.search is not None:
            parts.append(f"search: {view.search.pattern}{search_place(view.search_place)}")
        if self.ingest_rate is not None:
            parts.append(f"{self.ingest_rate:,.0f} rec/s")
        firing = self.main.query_one("#alerts", AlertsPanel).firing
        if firing and not self.main.query_one("#sidebar").display:
            parts.append(f"{firing} {'alert' if firing == 1 else 'alerts'} firing (a)")
        status = self.main.query_one("#status", Label)
        text = " · ".join(part for part in parts if part)
        if text != self._status_text:  # one line of fixed size: no layout needed
            self._status_text = text
            status.update(text, layout=False)
        status.set_class(not view.following, "-paused")

    # --- actions ------------------------------------------------------------------------------

    def action_focus_log(self) -> None:
        """Back to the log view; the bar shows again what is applied, not what was left typed."""
        if self.filter_bar.has_focus_within:
            self.filter_bar.show_active(self.filter_state, self.log_view.search)
        self.main.set_focus(self.log_view)

    def action_focus_alerts(self) -> None:
        self._show_sidebar(True)
        self.main.set_focus(self.main.query_one("#alerts OptionList"))

    def action_focus_sources(self) -> None:
        self._show_sidebar(True)
        self.main.set_focus(self.main.query_one("#sources", SourceToggles))

    def action_toggle_sidebar(self) -> None:
        self._show_sidebar(not self.main.query_one("#sidebar").display)

    def _show_sidebar(self, shown: bool) -> None:
        self._sidebar_chosen = shown
        self.main.query_one("#sidebar").display = shown
        self._update_status()

    def action_toggle_level(self, level: str) -> None:
        hidden = set(self.filter_state.hidden_levels)
        hidden.symmetric_difference_update({level})
        self.apply_filter(self.filter_state.with_changes(hidden_levels=frozenset(hidden)))

    def action_clear_filters(self) -> None:
        self.filter_bar.set_filter_text("")
        self.filter_bar.show_error(None)
        self.filter_bar.query_one("#search").value = ""
        sources = self.main.query_one("#sources", SourceToggles)
        sources.select_all()
        self.log_view.set_search(None)
        self.apply_filter(FilterState())

    def _run_on_main(self, action: str) -> None:
        if action != "quit":
            self.back_to_main()
        self.call_later(self.run_action, action)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action in the command palette, then Textual's own (theme, keys, screenshot)."""
        for action, title, help_text in ACTIONS:
            yield SystemCommand(title, help_text, lambda action=action: self._run_on_main(action))
        for level in LEVEL_CHOICES:
            yield SystemCommand(
                f"Toggle level {level}",
                f"Show or hide {level} records",
                lambda level=level: self._run_on_main(f"toggle_level('{level}')"),
            )
        yield from super().get_system_commands(screen)
