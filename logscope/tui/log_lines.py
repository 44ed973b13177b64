"""The log view's lines as strips: one per record, or several when wrapping, cached by record id."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import tzinfo

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip

from logscope.tui.log_reader import Row
from logscope.tui.rendering import (
    Columns,
    columns_for,
    field_lines,
    line_columns,
    short_source,
    source_labels,
    styled_message,
)

NO_STYLE = Style()
MARK_STYLE = "reverse"
CHANGE_MARKER_STYLE = "bold black on cyan"
# Columns the view moves sideways per left / right key.
SCROLL_STEP = 8


class LineRenderer:
    """How rows look at the view's width: fixed columns, then the text, cut at the right edge
    (scrolled sideways by `x_offset`) or wrapped under the text's start."""

    def __init__(self, zone: tzinfo, cache_size: int = 150) -> None:
        self.zone = zone
        self.search: re.Pattern | None = None
        self.wrap = False
        self.details = False  # the current record's fields pretty-printed under it (lnav's `p`)
        self.x_offset = 0
        self.labels: dict[str, str] = {}
        self.marks: dict[int, int] = {}  # marked record ids (lnav's `m`) -> their time (µs)
        self.change_markers: dict[int, str] = {}  # first record after a change marker -> its text
        self.columns = Columns()
        self._width = 0
        self._strips: LRUCache[tuple, list[Strip]] = LRUCache(cache_size)

    def resize(self, width: int, cache_size: int) -> None:
        self._width = width
        self.columns = columns_for(width, self.labels.values())
        self._strips = LRUCache(cache_size)

    def set_sources(self, sources: Iterable[str]) -> bool:
        """Label the sources by what tells them apart; True when the labels changed."""
        labels = source_labels(sources)
        if labels == self.labels:
            return False
        self.labels = labels
        self.columns = columns_for(self._width, labels.values())
        self.clear()
        return True

    def clear(self) -> None:
        self._strips.clear()

    def set_change_markers(self, marked: dict[int, str]) -> bool:
        """The records that start after a change marker; True when they changed."""
        if marked == self.change_markers:
            return False
        self.change_markers = marked
        self.clear()
        return True

    def strips(
        self, row: Row, width: int, base: Style, cursor: Style | None, console: Console
    ) -> list[Strip]:
        """The row's strips: one, or one per wrapped line; the current row's fields under it."""
        expanded = self.details and cursor is not None
        key = (
            row.id,
            width,
            cursor is not None,
            row.id in self.marks,
            row.id in self.change_markers,
            expanded,
        )
        strips = self._strips.get(key)
        if strips is None:
            strips = self._render(row, width, base, cursor, console)
            if expanded:
                indent = Text(" " * self.columns.width, end="")
                strips += [
                    self._strip(indent + line, width, base, None, console) for line in field_lines(row.fields)
                ]
            self._strips[key] = strips
        return strips

    def height(self, row: Row, width: int, base: Style, console: Console) -> int:
        return len(self.strips(row, width, base, None, console))

    def _render(
        self, row: Row, width: int, base: Style, cursor: Style | None, console: Console
    ) -> list[Strip]:
        # A source first seen since the last poll: its file name until the poll names it.
        label = self.labels.get(row.source) or short_source(row.source, len(row.source)).strip()
        head = line_columns(row.ts, label, row.level, self.zone, self.columns)
        time_end = head.plain.index(" ", 6 if not self.columns.short_time else 0)
        if row.id in self.change_markers:  # the first record after a change marker (docs/compare.md)
            head.stylize(CHANGE_MARKER_STYLE, 0, time_end)
        if row.id in self.marks:  # a marked line: its time in reverse video, as lnav marks it
            head.stylize(MARK_STYLE, 0, time_end)
        body = styled_message(row.host, row.message, row.fields, row.format, self.search)
        indent = self.columns.width
        if not self.wrap or width <= indent + 8:
            if self.x_offset:  # scrolled sideways: `…` where the text was cut
                body = Text("…", "dim", end="") + body[self.x_offset + 1 :]
            head.append_text(body)
            return [self._strip(head, width, base, cursor, console)]
        lines = body.wrap(console, width - indent, overflow="fold", no_wrap=False)
        texts = []
        for number, line in enumerate(lines or [Text()]):
            text = head if number == 0 else Text(" " * indent, end="")
            line.end = ""
            text.append_text(line)
            texts.append(text)
        return [self._strip(text, width, base, cursor, console) for text in texts]

    def plain_strip(self, text: Text, width: int, base: Style, console: Console) -> Strip:
        """A line of `text` cut (or padded) to `width`, over the `base` style."""
        return self._strip(text, width, base, None, console)

    @staticmethod
    def _strip(text: Text, width: int, base: Style, cursor: Style | None, console: Console) -> Strip:
        text.no_wrap = True
        text.truncate(width, overflow="ellipsis", pad=True)
        # The cursor's background goes over the line's (as a base style it would lose to it), but
        # not over a background of the text's own (a search hit, a CRIT level). Each distinct
        # style is combined once a line (rendering is most of what following costs the app).
        combined: dict[Style | None, Style] = {}
        segments = []
        for segment in text.render(console):
            style = combined.get(segment.style)
            if style is None:
                own = segment.style or NO_STYLE
                style = base + own if cursor is None or own.bgcolor else base + own + cursor
                combined[segment.style] = style
            segments.append(Segment(segment.text, style))
        return Strip(segments, width).crop(0, width)
