"""Errors per time bucket, with the alerts marked where they fired (event time): what a person
looks at in an incident. Same buckets as the overview's level chart, above it."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from logscope.tui.alerts_panel import NAME_COLUMNS, SEVERITY_COLUMNS, pick
from logscope.tui.change_markers import MARKER_GLYPH, MARKER_STYLE, ChangeMarker, buckets_of
from logscope.tui.histogram import AXIS_WIDTH, describe_span
from logscope.tui.log_reader import Histogram
from logscope.tui.rendering import SEVERITY_STYLES

ERROR_LEVELS = ("error", "critical", "fatal")
# An alert's event time: when it fired, else when its condition first held.
EVENT_COLUMNS = ("fired_at", "first_at", "ts")


def bar_cell(filled: float) -> str:
    """The block for one cell of a bar: empty, a part (eighths), or full."""
    if filled <= 0:
        return " "
    return "█" if filled >= 1 else " ▁▂▃▄▅▆▇█"[max(1, int(filled * 8))]


class ErrorRateChart(Widget, can_focus=True):
    """Bars of error (or worse) records per bucket, a y axis with three ticks, and a row of ▲
    under the buckets where alerts fired; a legend names the alerts marked. ←/→ pick a bucket,
    Enter goes to its first record in the log view."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "pick(-1)", "Earlier", show=False),
        Binding("right", "pick(1)", "Later", show=False),
        Binding("enter", "choose", "Go there"),
    ]

    class BucketChosen(Message):
        """Enter on a bucket: go to its start."""

        def __init__(self, start_us: int) -> None:
            super().__init__()
            self.start_us = start_us

    picked: int | None = None

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()

    def __init__(self, zone: tzinfo = UTC, **kwargs) -> None:
        super().__init__(**kwargs)
        self.zone = zone
        self.histogram: Histogram | None = None
        self.alerts: list[dict[str, Any]] = []
        self.markers: list[ChangeMarker] = []
        self._focus_us: int | None = None

    def action_pick(self, step: int) -> None:
        if self.histogram is None or not self.histogram.buckets:
            return
        last = self.histogram.buckets - 1
        self.picked = last if self.picked is None else max(0, min(last, self.picked + step))
        self.refresh()

    def action_choose(self) -> None:
        if self.histogram is not None and self.picked is not None:
            self.post_message(
                self.BucketChosen(self.histogram.start_us + self.picked * self.histogram.bucket_us)
            )

    def show(
        self, histogram: Histogram | None, alerts: list[dict[str, Any]], markers: list[ChangeMarker] = ()
    ) -> None:
        self.histogram, self.alerts, self.markers = histogram, alerts, list(markers)
        if histogram is not None and self._focus_us is not None:
            # Zoomed: the bar picked before stays picked, wherever it lands in the new buckets.
            bucket = (self._focus_us - histogram.start_us) // histogram.bucket_us
            self.picked = max(0, min(histogram.buckets - 1, bucket))
            self._focus_us = None
        self.refresh()

    def focus_on(self, moment_us: int) -> None:
        """Pick the bar holding `moment_us` once the next chart arrives."""
        self._focus_us = moment_us

    def focus_us(self) -> int | None:
        """The middle of the picked bar (or of the one to be picked), if any."""
        if self._focus_us is not None or self.histogram is None or self.picked is None:
            return self._focus_us
        return (
            self.histogram.start_us + self.picked * self.histogram.bucket_us + self.histogram.bucket_us // 2
        )

    def render(self) -> Text:
        histogram = self.histogram
        if histogram is None or histogram.buckets == 0:
            return Text("no records", "dim")
        buckets = histogram.buckets
        errors = [
            sum(histogram.counts.get(level, [0] * buckets)[i] for level in ERROR_LEVELS)
            for i in range(buckets)
        ]
        height = max(2, self.size.height - 3)
        peak = max(errors) or 1
        text = Text(no_wrap=True)
        for row in range(height - 1, -1, -1):
            text.append(self._tick(row, height, peak).rjust(AXIS_WIDTH - 1) + "│", "dim")
            low = row * peak / height
            for count in errors:
                partial = (count - low) / (peak / height)
                block = (
                    " " if partial <= 0 else "█" if partial >= 1 else " ▁▂▃▄▅▆▇█"[max(1, int(partial * 8))]
                )
                text.append(block, "red")
            text.append("\n")
        text.append_text(self._markers(histogram, buckets))
        text.append_text(self._legend(histogram))
        return text

    @staticmethod
    def _tick(row: int, height: int, peak: int) -> str:
        if row == height - 1:
            return f"{peak:,}"
        if row == (height - 1) // 2 and height >= 5 and peak >= 4:
            return f"{peak * (row + 1) / height:,.0f}"
        return "0" if row == 0 else ""

    def _fired(self, histogram: Histogram, buckets: int) -> list[tuple[int, dict[str, Any]]]:
        marked = []
        for alert in self.alerts:
            moment = pick(alert, EVENT_COLUMNS)
            if not isinstance(moment, datetime):
                continue
            bucket = (int(moment.timestamp() * 1_000_000) - histogram.start_us) // histogram.bucket_us
            if 0 <= bucket < buckets:
                marked.append((bucket, alert))
        return marked

    def _markers(self, histogram: Histogram, buckets: int) -> Text:
        row = [" "] * buckets
        styles = [""] * buckets
        for bucket in buckets_of(self.markers, histogram.start_us, histogram.bucket_us, buckets):
            row[bucket], styles[bucket] = MARKER_GLYPH, MARKER_STYLE
        for bucket, alert in self._fired(histogram, buckets):
            severity = str(pick(alert, SEVERITY_COLUMNS, "warning")).lower()
            row[bucket], styles[bucket] = "▲", SEVERITY_STYLES.get(severity, "yellow")
        text = Text(" " * (AXIS_WIDTH - 1) + "└", "dim")
        for bucket, (mark, style) in enumerate(zip(row, styles, strict=True)):
            picked = " reverse" if bucket == self.picked else ""
            text.append(mark if mark != " " else ("┴" if picked else "─"), (style or "dim") + picked)
        text.append("\n")
        return text

    def _legend(self, histogram: Histogram) -> Text:
        fired = self._fired(histogram, histogram.buckets)
        text = Text(" " * AXIS_WIDTH)
        if self.picked is not None:
            start = histogram.start_us + self.picked * histogram.bucket_us
            picked = datetime.fromtimestamp(start / 1_000_000, self.zone).strftime("%H:%M:%S")
            text.append(f"┴ {picked}, Enter goes there  ", "bold")
        text.append("█", "red")
        text.append(f" error, critical and fatal records per {describe_span(histogram.bucket_us)}  ")
        if fired:
            text.append("▲", "yellow")
            names = []
            for _, alert in sorted(fired, key=lambda item: item[0]):
                moment = pick(alert, EVENT_COLUMNS).astimezone(self.zone).strftime("%H:%M:%S")
                names.append(f"{pick(alert, NAME_COLUMNS, 'alert')} {moment}")
            text.append(" alert fired: " + ", ".join(names) + "  ")
        marked = buckets_of(self.markers, histogram.start_us, histogram.bucket_us, histogram.buckets)
        if marked:
            text.append(MARKER_GLYPH, MARKER_STYLE)
            moments = [
                f"{m.text} {datetime.fromtimestamp(m.ts_us / 1e6, self.zone):%H:%M:%S}"
                for bucket in sorted(marked)
                for m in marked[bucket]
            ]
            text.append(" marker: " + ", ".join(moments))
        text.truncate(max(1, self.size.width - 2), overflow="ellipsis")  # one line
        return text
