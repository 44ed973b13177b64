"""A row of level chips; clicking one (or its number key in the app) shows or hides that level."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from logscope.tui.filters import LEVEL_CHOICES
from logscope.tui.rendering import LEVEL_LABELS, LEVEL_STYLES


class LevelToggles(Widget):
    """Shows which levels are visible; posts Toggled when a chip is clicked."""

    class Toggled(Message):
        def __init__(self, level: str) -> None:
            super().__init__()
            self.level = level

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hidden: frozenset[str] = frozenset()
        self._spans: list[tuple[int, int, str]] = []

    def show_hidden(self, hidden: frozenset[str]) -> None:
        self.hidden = hidden
        self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True)
        self._spans = []
        for number, level in enumerate(LEVEL_CHOICES, start=1):
            label = f"{number}:{LEVEL_LABELS.get(level, level.upper()) if level != 'none' else 'NONE'}"
            start = len(text)
            if level in self.hidden:
                text.append(label, "dim strike")
            else:
                text.append(label, LEVEL_STYLES.get(level if level != "none" else None, ""))
            self._spans.append((start, len(text), level))
            text.append(" ")
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, level in self._spans:
            if start <= event.x < end:
                self.post_message(self.Toggled(level))
                return
