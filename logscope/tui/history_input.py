"""An Input that recalls earlier submissions with Up and Down."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class HistoryInput(Input):
    """Up/Down step through what was submitted before; submitting adds to the history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Earlier", show=False),
        Binding("down", "history(1)", "Later", show=False),
    ]

    def __init__(self, *args, history: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.history: list[str] = [] if history is None else history
        self._position = len(self.history)

    def use_history(self, history: list[str]) -> None:
        """Recall from (and add to) `history`, e.g. one kept across runs."""
        self.history = history
        self._position = len(history)

    def remember(self, text: str) -> bool:
        """Add `text` unless it is the last entry; whether it was added."""
        added = bool(text) and (not self.history or self.history[-1] != text)
        if added:
            self.history.append(text)
        self._position = len(self.history)
        return added

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._position = max(0, min(len(self.history), self._position + step))
        self.value = self.history[self._position] if self._position < len(self.history) else ""
        self.cursor_position = len(self.value)
