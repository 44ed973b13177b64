"""`?`: every key, what it does."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ / j k", "move the cursor (moving up pauses following)"),
    ("PgUp PgDn / space", "page up / down"),
    ("Home / g", "first record"),
    ("End / G", "last record, resume following"),
    ("ctrl+g", "go to a time: 14:05, 2026-11-20 14:05, -1h, +15m, yesterday 10:00"),
    ("e / E", "next / previous error (or worse), as in lnav"),
    ("w / W", "next / previous warning"),
    ("m / u / U", "mark the line (its time in reverse) / next / previous mark, as in lnav"),
    ("ctrl+w", "wrap long lines (again: cut them at the edge)"),
    ("p", "the current line's fields pretty-printed under it (again: hidden), as in lnav"),
    ("← →", "scroll the text sideways"),
    ("Enter", "detail view: raw text, fields, format, neighbours"),
    ("f", "filter: SQL (level = 'error', status >= 500), plain text, or /regex/; Esc undoes"),
    ("t", "time range: 15m (last 15 minutes of data), START..END in ISO 8601"),
    ("1 … 9", "show / hide a level (9 = records without a level)"),
    ("/", "search: highlight matches and jump to the nearest"),
    ("n / N", "next / previous match (the status line counts them)"),
    ("c", "clear filter, time range, search and alert selection"),
    ("a", "alerts panel (Enter shows the records that made the alert fire)"),
    ("l", "source toggles (space shows / hides a source)"),
    ("b", "show / hide the side panel"),
    ("s", "SQL screen (Escape returns)"),
    (
        "o",
        "overview: errors and alerts over time, histogram by level (z / Z zoom), sources; ◆ change markers",
    ),
    ("P", "patterns: count, trend, first seen; Enter shows one pattern's records, h hides one"),
    ("D", "compare before / after the latest change marker (docs/compare.md)"),
    ("ctrl+p", "command palette: every action by name"),
    ("Escape", "back to the log view"),
    ("q", "quit"),
)


class HelpScreen(ModalScreen[None]):
    """A table of the keys."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(title="logscope tail — keys", expand=True, show_edge=False)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("does")
        for key, does in KEYS:
            table.add_row(key, does)
        with VerticalScroll():
            yield Static(table)
