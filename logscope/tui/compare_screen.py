"""`D`: what `logscope compare --marker` prints, for a change marker (the latest; `[` and `]`
step through them): per source the error rate before and after with its judgement, the new
patterns, the patterns whose share changed and the fields that shifted among errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import duckdb
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from logscope.store.change_stats import HIGHER, LOWER
from logscope.store.compare import SourceComparison, Windows, compare

if TYPE_CHECKING:
    from logscope.tui.app import LogscopeApp

MARKERS_SQL = "SELECT id, ts, text, source FROM markers ORDER BY ts, id"
VERDICT_STYLES = {HIGHER: "bold red", LOWER: "bold green"}


def comparison_view(marker: tuple, comparisons: list[SourceComparison]) -> RenderableType:
    """The comparisons as rich renderables, one block per source."""
    _, ts, text, _ = marker
    parts: list[RenderableType] = [
        Text(f"◆ {text} at {ts:%Y-%m-%d %H:%M:%S} (before: everything before it)", "bold cyan")
    ]
    if not comparisons:
        parts.append(Text("no records on either side", "dim"))
    for c in comparisons:
        parts.append(Text(f"\n{c.source}", "bold"))
        line = Text("  error rate ")
        line.append(_rate(c.before.errors, c.before.records))
        line.append(" → ")
        line.append(_rate(c.after.errors, c.after.records))
        if c.judgement.ratio is not None:
            line.append(f"  ×{c.judgement.ratio:.2f}")
        line.append(f"  {c.judgement.verdict}", VERDICT_STYLES.get(c.judgement.verdict, "dim"))
        if c.judgement.p_value is not None:
            line.append(f" (p = {c.judgement.p_value:.2g})", "dim")
        parts.append(line)
        if c.new_patterns:
            table = _table("new patterns after it", ("id", "count", "template"))
            for p in c.new_patterns:
                table.add_row(str(p.id), f"{p.after:,}", p.template)
            parts.append(table)
        if c.changed_patterns:
            table = _table("patterns whose share changed most", ("id", "before", "after", "template"))
            for p in c.changed_patterns:
                table.add_row(str(p.id), f"{p.before_rate:.1%}", f"{p.after_rate:.1%}", p.template)
            parts.append(table)
        if c.shifted_fields:
            table = _table(
                "fields that shifted most among errors", ("field", "shift", "value", "before", "after")
            )
            for f in c.shifted_fields:
                table.add_row(
                    f.field, f"{f.shift:.2f}", f.value, f"{f.before_share:.0%}", f"{f.after_share:.0%}"
                )
            parts.append(table)
    return Group(*parts)


def _rate(errors: int, records: int) -> str:
    return f"{errors / records:.1%} ({errors:,} of {records:,})" if records else "no records"


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(*columns, title=f"  {title}", title_justify="left", box=None, padding=(0, 2, 0, 2))
    return table


class CompareScreen(Screen[None]):
    """Reads in a worker thread when it opens and when another marker is picked."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,D", "app.pop_screen", "Back to logs"),
        Binding("left_square_bracket", "step(-1)", "Earlier marker"),
        Binding("right_square_bracket", "step(1)", "Later marker"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.markers: list[tuple] = []
        self.index: int | None = None  # None: the latest

    @property
    def logscope(self) -> LogscopeApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Label("Before and after a change marker (logscope compare)", classes="title")
        with VerticalScroll():
            yield Static("reading…", id="compare-body")
        yield Footer()

    def on_screen_resume(self) -> None:
        self.read(self.index)

    def action_step(self, step: int) -> None:
        if not self.markers:
            return
        current = len(self.markers) - 1 if self.index is None else self.index
        self.index = max(0, min(len(self.markers) - 1, current + step))
        self.read(self.index)

    @work(thread=True, exclusive=True, group="compare")
    def read(self, index: int | None) -> None:
        reader = self.logscope.reader.for_thread()
        try:
            markers = reader.cursor.execute(MARKERS_SQL).fetchall()
            if not markers:
                body: RenderableType = Text(
                    'no change markers yet: `logscope mark "deploy api v2.3"` records one, and a'
                    " version field changing in the records makes one",
                    "dim",
                )
            else:
                marker = markers[-1 if index is None else min(index, len(markers) - 1)]
                _, ts, _, source = marker
                windows = Windows(None, ts, ts, None, source)
                body = comparison_view(
                    marker, compare(lambda sql: reader.cursor.execute(sql).fetchall(), windows)
                )
        except duckdb.Error as exc:
            markers, body = [], Text(f"compare: {' '.join(str(exc).split())}", "red")
        finally:
            reader.close()
        self.app.call_from_thread(self._show, markers, body)

    def _show(self, markers: list[tuple], body: RenderableType) -> None:
        self.markers = markers
        self.query_one("#compare-body", Static).update(body)
