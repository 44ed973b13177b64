"""The filter bar: a filter (SQL predicate, text or /regex/), a time range, level chips, search."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label

from logscope.tui.filters import FilterState, TextMatch
from logscope.tui.history import History
from logscope.tui.history_input import HistoryInput
from logscope.tui.level_toggles import LevelToggles

# The boxes' hints, and the shorter ones a narrow terminal (80 columns) has room for: a hint cut
# off at the box's edge ran into the next box's ("texttime").
FILTER_HINTS = (
    "filter: level = 'error' AND source LIKE '%api%'  ·  text  ·  /regex/",
    "filter: level = 'error' · text · /regex/",
)
TIME_HINTS = ("time: 15m · 2026-11-20T14:00..14:30", "time: 15m · 14:00..14:30")
NARROW_COLUMNS = 120


class FilterBar(Vertical):
    """Posts FilterSubmitted / SearchSubmitted; the app validates and calls show_error on failure."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()

    class FilterSubmitted(Message):
        def __init__(self, text: str, time_range: str) -> None:
            super().__init__()
            self.text = text
            self.time_range = time_range

    class SearchSubmitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        with Horizontal(id="filter-row"):
            yield HistoryInput(placeholder=FILTER_HINTS[0], id="filter", compact=True)
            yield Input(placeholder=TIME_HINTS[0], id="time-range", compact=True)
        with Horizontal(id="toggle-row"):
            yield LevelToggles(id="levels")
            yield HistoryInput(placeholder="search (n / N)", id="search", compact=True)
        yield Label("", id="filter-error")

    history: History | None = None

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW_COLUMNS
        self.query_one("#filter", Input).placeholder = FILTER_HINTS[narrow]
        self.query_one("#time-range", Input).placeholder = TIME_HINTS[narrow]

    def use_history(self, history: History) -> None:
        """Recall filters and searches from (and keep them in) `history`."""
        self.history = history
        self.query_one("#filter", HistoryInput).use_history(history.of("filter"))
        self.query_one("#search", HistoryInput).use_history(history.of("search"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        box = event.input
        if isinstance(box, HistoryInput) and box.remember(event.value.strip()) and self.history:
            self.history.save()
        if event.input.id == "search":
            self.post_message(self.SearchSubmitted(event.value.strip()))
        else:
            self.post_message(
                self.FilterSubmitted(
                    self.query_one("#filter", Input).value.strip(),
                    self.query_one("#time-range", Input).value.strip(),
                )
            )

    def show_error(self, message: str | None) -> None:
        label = self.query_one("#filter-error", Label)
        label.update(message or "")
        label.set_class(bool(message), "-shown")

    def set_filter_text(self, text: str, time_range: str = "") -> None:
        self.query_one("#filter", Input).value = text
        self.query_one("#time-range", Input).value = time_range

    def show_active(self, state: FilterState, search: TextMatch | None) -> None:
        """Put back the text of the filter, time range and search that are applied, and drop
        the error of one that was not."""
        if state.record_ids is None:  # an alert's records: the bar was emptied for them
            self.query_one("#filter", Input).value = state.typed or state.predicate or ""
        self.query_one("#time-range", Input).value = state.time_text
        self.query_one("#search", Input).value = search.pattern if search is not None else ""
        self.show_error(None)

    def _focus(self, widget: Input) -> None:
        """Focus now, not after the messages waiting (`focus()` is deferred): keys typed right
        after `f` on a busy machine are already queued, and must reach the box."""
        self.screen.set_focus(widget)

    def focus_filter(self) -> None:
        self._focus(self.query_one("#filter", Input))

    def focus_search(self) -> None:
        self._focus(self.query_one("#search", Input))

    def focus_time_range(self) -> None:
        self._focus(self.query_one("#time-range", Input))

    @property
    def levels(self) -> LevelToggles:
        return self.query_one(LevelToggles)
