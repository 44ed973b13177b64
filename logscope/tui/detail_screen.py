"""The detail view: one record's raw text, parsed fields, format, and its neighbours in its source."""

from __future__ import annotations

from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, ClassVar

import orjson
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from logscope.tui.log_reader import Row
from logscope.tui.rendering import LEVEL_LABELS, LEVEL_STYLES, format_time, render_line


def fields_json(fields: Any) -> str:
    """The parsed fields as pretty, key-sorted JSON ('{}' when there are none)."""
    return orjson.dumps(fields or {}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode()


class DetailScreen(ModalScreen[None]):
    """Everything about one record. Escape closes."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(
        self,
        record: dict[str, Any],
        before: list[Row],
        after: list[Row],
        zone: tzinfo = UTC,
    ) -> None:
        super().__init__()
        self.record = record
        self.before = before
        self.after = after
        self.zone = zone

    def compose(self) -> ComposeResult:
        from rich.syntax import Syntax  # (here: pygments is ~1.5 MB that following never uses)

        record = self.record
        with VerticalScroll(id="detail"):
            yield Static(self._header(), id="detail-header")
            yield Static("Raw", classes="section")
            yield Static(Text(record["raw"]), id="detail-raw")
            yield Static(f"Fields ({record['format']})", classes="section")
            yield Static(Syntax(fields_json(record["fields"]), "json", word_wrap=True), id="detail-fields")
            yield Static(f"Neighbours in {record['source']}", classes="section")
            yield Static(self._neighbours(), id="detail-neighbours")
        yield Footer()

    def _header(self) -> Text:
        record = self.record
        level = record["level"]
        text = Text()
        text.append(f"#{record['id']} ", "bold")
        text.append(format_time(record["ts_us"], self.zone), "blue")
        text.append("  ")
        text.append(LEVEL_LABELS.get(level, str(level)), LEVEL_STYLES.get(level, ""))
        text.append(f"  source {record['source']}")
        if record["host"]:
            text.append(f"  host {record['host']}")
        text.append(f"  format {record['format']}", "cyan")
        text.append("\n")
        text.append(record["message"] or "", "bold")
        return text

    def _neighbours(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        record = self.record
        for row in self.before:
            text.append_text(render_line(row, self.zone))
            text.append("\n")
        fields = record["fields"]
        current = render_line(
            Row(
                record["id"],
                record["ts_us"],
                record["source"],
                record["level"],
                record["message"] or "",
                record["format"],
                record["host"],
                orjson.dumps(fields).decode() if fields is not None else None,
            ),
            self.zone,
        )
        current.stylize("reverse")
        text.append_text(current)
        for row in self.after:
            text.append("\n")
            text.append_text(render_line(row, self.zone))
        return text
