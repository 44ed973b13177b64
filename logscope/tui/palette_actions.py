"""The app's actions by name: for the command palette, and which need the log view on top."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logscope.tui.filters import FilterError
from logscope.tui.goto import GotoScreen, goto_time
from logscope.tui.help_screen import HelpScreen

if TYPE_CHECKING:
    from logscope.tui.filter_bar import FilterBar
    from logscope.tui.log_view import LogView

# (action, title, help) for the command palette; the key bindings call the same actions.
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("focus_filter", "Filter", "Filter by a SQL predicate, plain text or /regex/"),
    ("focus_time_range", "Time range", "Show only a time window: 15m, or START..END"),
    ("search", "Search", "Highlight matches and jump to the nearest"),
    ("next_match", "Next match", "Jump to the next search match"),
    ("previous_match", "Previous match", "Jump to the previous search match"),
    ("clear_filters", "Clear filters", "Drop filter, time range, search, hidden levels and sources"),
    ("follow", "Follow", "Jump to the newest record and follow new ones"),
    ("pause", "Pause following", "Stop following new records"),
    ("detail", "Detail", "Show the highlighted record in full"),
    ("goto", "Go to time", "Jump to a time: 14:05, 2026-11-20 14:05, -1h, yesterday 10:00"),
    ("next_error", "Next error", "Jump to the next error (or worse)"),
    ("previous_error", "Previous error", "Jump to the previous error (or worse)"),
    ("next_warning", "Next warning", "Jump to the next warning"),
    ("previous_warning", "Previous warning", "Jump to the previous warning"),
    ("toggle_wrap", "Wrap lines", "Wrap long lines, or cut them at the edge"),
    ("focus_alerts", "Alerts", "Go to the alerts panel"),
    ("focus_sources", "Source toggles", "Go to the source toggles"),
    ("toggle_sidebar", "Toggle side panel", "Show or hide alerts and sources"),
    ("sql", "SQL", "Run SQL over the logs table"),
    ("overview", "Overview", "Histogram by level, sources, rates and drops"),
    ("patterns", "Patterns", "Log patterns by count: Enter shows one in the log view, h hides one"),
    ("compare", "Compare", "Before and after the latest change marker: error rate, new patterns, fields"),
    ("help", "Help", "Every key"),
    ("quit", "Quit", "Leave logscope"),
)


# Actions that work on the log view's screen; disabled while another screen is on top.
MAIN_ACTIONS = frozenset(
    {
        "focus_filter",
        "focus_time_range",
        "search",
        "clear_filters",
        "focus_alerts",
        "focus_sources",
        "toggle_sidebar",
        "sql",
        "overview",
        "patterns",
        "compare",
        "focus_log",
        "toggle_level",
        "next_match",
        "previous_match",
        "follow",
        "pause",
        "detail",
        "next_error",
        "previous_error",
        "next_warning",
        "previous_warning",
        "toggle_wrap",
        "goto",
    }
)


class ViewActions:
    """Mixed into the app: the actions that hand a key to the filter bar or the log view."""

    filter_bar: FilterBar
    log_view: LogView

    def action_focus_filter(self) -> None:
        self.filter_bar.focus_filter()

    def action_focus_time_range(self) -> None:
        self.filter_bar.focus_time_range()

    def action_search(self) -> None:
        self.filter_bar.focus_search()

    def action_next_match(self) -> None:
        self.log_view.action_next_match(True)

    def action_previous_match(self) -> None:
        self.log_view.action_next_match(False)

    def action_follow(self) -> None:
        self.log_view.action_follow()

    def action_pause(self) -> None:
        self.log_view.following = False
        self._update_status()

    def action_next_error(self) -> None:
        self.log_view.action_next_level("error", True)

    def action_previous_error(self) -> None:
        self.log_view.action_next_level("error", False)

    def action_next_warning(self) -> None:
        self.log_view.action_next_level("warning", True)

    def action_previous_warning(self) -> None:
        self.log_view.action_next_level("warning", False)

    def action_toggle_wrap(self) -> None:
        self.log_view.action_toggle_wrap()

    def action_detail(self) -> None:
        self.log_view.action_choose()

    def action_goto(self) -> None:
        """ctrl+g: ask for a time and move the cursor to the first record at or after it."""
        self.push_screen(GotoScreen(), self._go_to)

    def _go_to(self, text: str | None) -> None:
        if not text:
            return
        view = self.log_view
        row = view.current_row()
        reference = row.ts if row is not None else view.reader.newest_us()
        if reference is None:
            return
        try:
            target = goto_time(text, reference, self.zone)
        except FilterError as exc:
            self.notify(str(exc), severity="warning", timeout=4)
            return
        index = view.reader.position(view.state, target, 0, view.last_id)
        view.move_to(min(index, view.total - 1))


class ScreenActions:
    """Mixed into the app: the actions that open a screen over the log view."""

    def action_sql(self) -> None:
        self.push_screen("sql")

    def action_overview(self) -> None:
        self.push_screen("overview")
        self.call_after_refresh(self.poll)

    def action_patterns(self) -> None:
        self.push_screen("patterns")

    def action_compare(self) -> None:
        self.push_screen("compare")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
