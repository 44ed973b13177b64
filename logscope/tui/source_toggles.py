"""The source toggles: one checkbox per source with its record count; unchecked sources are hidden."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.message import Message
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from logscope.tui.rendering import short_source


class SourceToggles(SelectionList[str]):
    """Posts HiddenChanged with the sources that are unchecked."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()

    class HiddenChanged(Message):
        def __init__(self, hidden: frozenset[str]) -> None:
            super().__init__()
            self.hidden = hidden

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.counts: dict[str, int] = {}
        self._posted: frozenset[str] = frozenset()

    def show_sources(self, counts: dict[str, int]) -> None:
        """Add sources not seen before and refresh the counts, keeping what is checked."""
        if counts == self.counts:
            return
        if list(counts) == list(self.counts):  # the same sources: new counts in place, no layout
            self.counts = dict(counts)
            for index, (name, count) in enumerate(counts.items()):
                self.replace_option_prompt_at_index(index, self._label(name, count))
            return
        hidden = self.hidden
        highlighted = self.highlighted
        self.counts = dict(counts)
        self.clear_options()
        self.add_options(
            [Selection(self._label(name, count), name, name not in hidden) for name, count in counts.items()]
        )
        if self.option_count:
            self.highlighted = min(highlighted or 0, self.option_count - 1)

    @property
    def hidden(self) -> frozenset[str]:
        return frozenset(self.counts) - frozenset(self.selected)

    @staticmethod
    def _label(name: str, count: int) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(short_source(name, 20))
        text.append(f" {count:>9,}", "magenta")
        return text

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        hidden = self.hidden
        if hidden != self._posted:  # rebuilding the list also reports changes: ignore those
            self._posted = hidden
            self.post_message(self.HiddenChanged(hidden))
