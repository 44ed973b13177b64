"""The log view's screen rows: which record (and which of its wrapped lines) each row shows."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip

from logscope.tui.log_lines import SCROLL_STEP, LineRenderer
from logscope.tui.log_reader import Row
from logscope.tui.rendering import columns_for


class ScreenLayout:
    """Mixed into LogView: draws rows from `scroll_y` (the top record) down, one line per record,
    or as many as a record wraps to; and scrolls sideways."""

    lines: LineRenderer
    total: int
    last_id: int
    cursor: int
    following: bool
    _layout: tuple[tuple, list[tuple[int, int]]]
    _frame: tuple[Style, int] | None = None  # the view's style and width while a frame is drawn
    file_ends: list[tuple[str, str]]  # (file name, line): shown until the first record is stored

    def action_toggle_wrap(self) -> None:
        """Wrap long lines under the text's start, or cut them at the edge (lnav's ctrl+w)."""
        self.lines.wrap = not self.lines.wrap
        self.lines.x_offset = 0
        self._relayout()

    def action_toggle_details(self) -> None:
        """Show the current record's fields pretty-printed under it, or not (lnav's `p`)."""
        self.lines.details = not self.lines.details
        self._relayout()

    def _relayout(self) -> None:
        """Lay the rows out anew (their heights changed), keeping the end or the cursor in view."""
        self.lines.clear()
        self._size_to_total()
        if self.following:
            self._show_end()
        else:
            self._move_cursor(self.cursor)
        self.refresh()

    @property
    def variable_heights(self) -> bool:
        """Whether a record may take more than one screen row (wrapped, or showing its fields)."""
        return self.lines.wrap or self.lines.details

    def action_scroll_sideways(self, direction: int) -> None:
        """Move the text (not the time, source and level) left or right."""
        if self.lines.wrap:
            return
        self.lines.x_offset = max(0, self.lines.x_offset + direction * SCROLL_STEP)
        self.lines.clear()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        """A frame's rows, the view's style and width read once for all of them (Textual works
        each out from the widget's ancestors: ~10% of drawing a frame, read for every row)."""
        self._frame = (self.rich_style, self.scrollable_content_region.width)
        try:
            return super().render_lines(crop)  # type: ignore[misc]
        finally:
            self._frame = None

    def _style_and_width(self) -> tuple[Style, int]:
        return self._frame or (self.rich_style, self.scrollable_content_region.width)

    def render_line(self, y: int) -> Strip:
        base, width = self._style_and_width()
        if self.file_ends and not self.last_id:
            return self._file_end_line(y, width)
        layout = self._screen_layout()
        if y >= len(layout):
            return Strip.blank(width, base)
        index, part = layout[y]
        row = self._row(index)
        if row is None:
            return Strip.blank(width, base)
        strips = self._strips_of(row, selected=index == self.cursor)
        return strips[part] if part < len(strips) else Strip.blank(width, base)

    def _file_end_line(self, y: int, width: int) -> Strip:
        """A line of the files' ends, as read (tui/file_ends.py), under its file's name."""
        shown = self.file_ends[-max(1, self.scrollable_content_region.height) :]
        if y >= len(shown):
            return Strip.blank(width, self.rich_style)
        name, line = shown[y]
        text = Text(end="")
        column = columns_for(width, {name for name, _ in shown}).source_width
        text.append(name[:column].ljust(column), "dim")
        text.append(" " + line)
        return self.lines.plain_strip(text, width, self.rich_style, self.app.console)

    def _strips_of(self, row: Row, selected: bool = False) -> list[Strip]:
        cursor = None
        if selected:
            cursor = Style(bgcolor=self.get_component_rich_style("log-view--cursor").bgcolor)
        base, width = self._style_and_width()
        return self.lines.strips(row, width, base, cursor, self.app.console)

    def _height_of(self, index: int) -> int:
        row = self._row(index)
        return len(self._strips_of(row, selected=index == self.cursor)) if row is not None else 1

    def _screen_layout(self) -> list[tuple[int, int]]:
        """(record index, line of it) for each screen row, from the top record down."""
        top, height = int(self.scroll_y), max(1, self.scrollable_content_region.height)
        if not self.variable_heights:
            return [(index, 0) for index in range(top, min(self.total, top + height))]
        key = (top, height, self.total, self.last_id, self.scrollable_content_region.width, self.lines.search)
        key += (self.lines.wrap, self.cursor if self.lines.details else None)
        if self._layout[0] == key:
            return self._layout[1]
        layout: list[tuple[int, int]] = []
        index = top
        while len(layout) < height and index < self.total:
            layout += [(index, part) for part in range(self._height_of(index))]
            index += 1
        layout = layout[:height]
        self._layout = (key, layout)
        return layout

    def _fully_shown(self) -> set[int]:
        """The records whose every line is on screen."""
        layout = self._screen_layout()
        shown = {index for index, _ in layout}
        if layout and layout[-1][1] + 1 < self._height_of(layout[-1][0]):
            shown.discard(layout[-1][0])
        return shown

    def _top_showing(self, index: int) -> int:
        """The top record that shows record `index` whole at the bottom of the screen (wrapping)."""
        room = max(1, self.scrollable_content_region.height) - self._height_of(index)
        top = index
        while top > 0 and room - self._height_of(top - 1) >= 0:
            top -= 1
            room -= self._height_of(top)
        return max(0, top)
