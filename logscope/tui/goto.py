"""Go to a time (ctrl+g), as lnav's `:goto`: `14:05`, `2026-11-20 14:05`, `-1h`, `yesterday 10:00`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from logscope.tui.filters import FilterError, parse_moment

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")
_RELATIVE = re.compile(r"^([+-])\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour|d|day)s?$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_DAY_WORDS = {"today": 0, "yesterday": -1}


def goto_time(text: str, reference_us: int, zone: tzinfo) -> int:
    """The moment `text` names, in µs: a clock time on the reference record's day, a date and
    time, a step from the reference (`-1h`, `+15m`), or `today`/`yesterday` and a clock time."""
    text = " ".join(text.split())
    reference = datetime.fromtimestamp(reference_us / 1_000_000, zone)
    relative = _RELATIVE.match(text)
    if relative:
        sign = -1 if relative[1] == "-" else 1
        seconds = float(relative[2]) * _UNIT_SECONDS[relative[3].lower()]
        return reference_us + sign * int(seconds * 1_000_000)
    day = reference
    words = text.split(" ", 1)
    if words[0].lower() in _DAY_WORDS:
        day = reference + timedelta(days=_DAY_WORDS[words[0].lower()])
        text = words[1] if len(words) > 1 else "00:00"
    clock = _CLOCK.match(text)
    if clock:
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        micro = int((clock[4] or "0").ljust(6, "0"))
        if hour > 23 or minute > 59 or second > 59:
            raise FilterError(f"not a time of day: {text!r}")
        moment = day.replace(hour=hour, minute=minute, second=second, microsecond=micro)
        return int(moment.timestamp() * 1_000_000)
    try:
        return parse_moment(text, zone)
    except FilterError:
        raise FilterError(
            f"not a time: {text!r} (try 14:05, 2026-11-20 14:05, -1h, yesterday 10:00)"
        ) from None


class GotoScreen(ModalScreen[str | None]):
    """One line asking for a time; dismissed with the text typed (None on Escape)."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="goto"):
            yield Label("Go to time — 14:05 · 2026-11-20 14:05 · -1h · +15m · yesterday 10:00")
            yield Input(id="goto-input", compact=True)

    def on_mount(self) -> None:
        self.set_focus(self.query_one(Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)
