"""The overview: records per time bucket by level, the sources with rates and drops, the ingest rate."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from logscope.tui.error_chart import ErrorRateChart
from logscope.tui.histogram import HistogramChart, describe_span
from logscope.tui.live import SourceLine
from logscope.tui.log_reader import Histogram

# "read to" is where a file's reading stands over every run (a resumed database reads on from
# there); lines and bytes are what this run read.
SOURCE_COLUMNS = (
    "source",
    "records",
    "read to",
    "lines this run",
    "bytes this run",
    "lines/s",
    "errors",
    "drops",
    "state",
)


def human_bytes(count: int | None) -> str:
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TB"


def read_to(line: SourceLine) -> str:
    """`104 KB of 104 KB` for a file; `-` for other sources."""
    if line.size is None:
        return "-"
    done = "-" if line.read_to is None else human_bytes(line.read_to)
    return f"{done} of {human_bytes(line.size)}"


# Zoomed in no further than this many seconds per bar (the charts' smallest bucket).
MIN_BUCKET_US = 1_000_000
CHART_TITLE = "Errors per time bucket, and the alerts where they fired (current filter)"


def zoomed(
    histogram: Histogram, window: tuple[int, int] | None, focus_us: int, factor: float
) -> tuple[int, int] | None:
    """The window (start, end µs) `factor` times as wide as `window` (None: every record's span),
    around `focus_us`; None once it would cover every record (the whole span again)."""
    first, last = histogram.first_us, histogram.last_us
    shown = (window[1] - window[0]) if window else last - first
    width = max(int(shown * factor), MIN_BUCKET_US * histogram.buckets)
    if width >= last - first:
        return None
    start = min(max(first, focus_us - width // 2), last - width)
    return start, start + width


def number(value: float | int | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


class OverviewScreen(Screen[None]):
    """The app fills it with `show_*`; it refreshes while open."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,o", "app.pop_screen", "Back to logs"),
        Binding("z", "zoom(0.5)", "Zoom in"),
        Binding("Z", "zoom(2)", "Zoom out"),
    ]

    class Zoomed(Message):
        """The charts' time window changed: they need reading again."""

    def __init__(self, zone: tzinfo = UTC) -> None:
        super().__init__()
        self.zone = zone
        self.window: tuple[int, int] | None = None  # zoomed in: the time span the charts show

    def compose(self) -> ComposeResult:
        yield Label(f"{CHART_TITLE} · z zooms in", classes="title", id="chart-title")
        yield ErrorRateChart(self.zone, id="error-rate")
        yield Label("Records per time bucket, by level", classes="title")
        yield HistogramChart(self.zone, id="histogram")
        yield Label("", id="overview-totals")
        yield Label("Sources", classes="title")
        yield DataTable(id="sources-table", zebra_stripes=True, cursor_type="row")
        yield Footer()

    @property
    def composed(self) -> bool:
        """Whether its widgets are there: a snapshot read before the screen was pushed may
        arrive before they are (the next poll fills them)."""
        return bool(self.query(HistogramChart))

    @property
    def histogram_columns(self) -> int:
        return self.query_one(HistogramChart).columns

    def show_histogram(
        self, histogram: Histogram | None, alerts: list | None = None, markers: list = ()
    ) -> None:
        if not self.composed:
            return
        self.query_one(HistogramChart).show(histogram, markers)
        self.query_one(ErrorRateChart).show(histogram, alerts or [], markers)
        self.query_one("#chart-title", Label).update(self._title(histogram))

    def _title(self, histogram: Histogram | None) -> str:
        if self.window is None or histogram is None:
            return f"{CHART_TITLE} · z zooms in"
        start, end = (datetime.fromtimestamp(us / 1e6, self.zone) for us in self.window)
        span = describe_span(self.window[1] - self.window[0])
        return f"{CHART_TITLE} · zoomed to {span}, {start:%H:%M:%S}–{end:%H:%M:%S} · z zooms in, Z out"

    def action_zoom(self, factor: float) -> None:
        """lnav's z / Z: halve or double the time the charts show, around the picked bar (←/→)
        or the middle; zoomed out to every record, the charts show the whole span again."""
        chart = self.query_one(ErrorRateChart)
        histogram = chart.histogram
        if histogram is None or not histogram.buckets or (factor > 1 and self.window is None):
            return
        focus = chart.focus_us()
        if focus is None:  # nothing picked: the middle of what is shown
            start, end = self.window or (histogram.first_us, histogram.last_us)
            focus = (start + end) // 2
        self.window = zoomed(histogram, self.window, focus, factor)
        chart.focus_on(focus)
        self.post_message(self.Zoomed())

    def show_sources(self, sources: list[SourceLine], ingest_rate: float | None, total: int) -> None:
        if not self.composed:
            return
        rows = [
            (
                line.name,
                number(line.records),
                read_to(line),
                number(line.lines),
                human_bytes(line.bytes),
                number(line.rate, 1),
                number(line.errors),
                number(line.drops),
                "" if line.lines is None else ("ended" if line.done else "reading"),
            )
            for line in sources
        ]
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        # Widths from the cells, so the table is laid out at once (not after a deferred measure).
        for index, name in enumerate(SOURCE_COLUMNS):
            table.add_column(name, width=max([len(name), *(len(row[index]) for row in rows)]))
        table.add_rows(rows)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        rate = "-" if ingest_rate is None else f"{ingest_rate:,.0f} records/s"
        self.query_one("#overview-totals", Label).update(f"{total:,} records stored · ingest rate {rate}")
