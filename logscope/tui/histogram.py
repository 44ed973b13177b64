"""A stacked bar chart of record counts per time bucket, coloured by level."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path

from rich.text import Text
from textual.widget import Widget

from logscope.record import LEVELS
from logscope.tui.change_markers import MARKER_GLYPH, MARKER_STYLE, ChangeMarker, buckets_of
from logscope.tui.log_reader import Histogram

# Stacked from the bottom: records without a level, then the levels from least severe up.
STACK_ORDER: tuple[str | None, ...] = (None, *LEVELS)
BAR_COLOURS: dict[str | None, str] = {
    None: "grey50",
    "trace": "grey42",
    "debug": "grey62",
    "info": "green",
    "notice": "cyan",
    "warning": "yellow",
    "error": "red",
    "critical": "bright_red",
    "fatal": "magenta",
}
AXIS_WIDTH = 8


def describe_span(microseconds: int) -> str:
    seconds = microseconds / 1_000_000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


class HistogramChart(Widget):
    """Renders a Histogram to fit its size; the app asks the store for one bucket per column."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()

    def __init__(self, zone: tzinfo = UTC, **kwargs) -> None:
        super().__init__(**kwargs)
        self.zone = zone
        self.histogram: Histogram | None = None
        self.markers: list[ChangeMarker] = []

    @property
    def columns(self) -> int:
        return max(1, self.size.width - AXIS_WIDTH)

    def show(self, histogram: Histogram | None, markers: list[ChangeMarker] = ()) -> None:
        self.histogram, self.markers = histogram, list(markers)
        self.refresh()

    def render(self) -> Text:
        histogram = self.histogram
        height = max(2, self.size.height - 2)
        if histogram is None or histogram.buckets == 0:
            return Text("no records", "dim")
        buckets = histogram.buckets
        totals = [sum(counts[i] for counts in histogram.counts.values()) for i in range(buckets)]
        peak = max(totals) or 1
        text = Text(no_wrap=True)
        for row in range(height - 1, -1, -1):
            label = f"{peak:,}" if row == height - 1 else ("0" if row == 0 else "")
            text.append(label.rjust(AXIS_WIDTH - 1) + "│", "dim")
            low = row * peak / height
            for bucket in range(buckets):
                text.append(*self._cell(histogram, bucket, totals[bucket], low, peak / height))
            text.append("\n")
        text.append(" " * (AXIS_WIDTH - 1) + "└", "dim")
        marked = buckets_of(self.markers, histogram.start_us, histogram.bucket_us, buckets)
        for bucket in range(buckets):  # a change marker: ◆ on the axis (docs/compare.md)
            text.append(*((MARKER_GLYPH, MARKER_STYLE) if bucket in marked else ("─", "dim")))
        text.append("\n")
        text.append_text(self._time_axis(histogram, buckets))
        return text

    def _cell(
        self, histogram: Histogram, bucket: int, total: int, low: float, step: float
    ) -> tuple[str, str]:
        if total <= low:
            return " ", ""
        middle = low + step / 2
        cumulative = 0
        colour = "white"
        for level in STACK_ORDER:
            counts = histogram.counts.get(level)
            if counts is None:
                continue
            cumulative += counts[bucket]
            colour = BAR_COLOURS.get(level, "white")
            if cumulative > min(middle, total - 1e-9):
                break
        partial = (total - low) / step
        block = "█" if partial >= 1 else " ▁▂▃▄▅▆▇█"[max(1, int(partial * 8))]
        return block, colour

    def _time_axis(self, histogram: Histogram, buckets: int) -> Text:
        start = datetime.fromtimestamp(histogram.start_us / 1e6, self.zone)
        end = datetime.fromtimestamp((histogram.start_us + histogram.bucket_us * buckets) / 1e6, self.zone)
        left = start.strftime("%m-%d %H:%M:%S")
        right = end.strftime("%H:%M:%S")
        middle = f"{describe_span(histogram.bucket_us)}/bar"
        gap = max(1, buckets - len(left) - len(right) - len(middle))
        line = " " * AXIS_WIDTH + left + " " * (gap // 2) + middle + " " * (gap - gap // 2) + right
        return Text(line, "blue")
