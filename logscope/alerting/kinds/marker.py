"""The changed_after_marker kind: a source's error rate after a change marker is `factor` times
its rate before, with enough records on both sides (alerting/markerrules.py evaluates it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logscope.alerting.durations import SECOND
from logscope.alerting.kinds.base import Condition, RuleKind, duration, integer, number

if TYPE_CHECKING:
    from logscope.alerting.model import Rule


class ChangedAfterMarker(RuleKind):
    """Per marker and source: errors / records in the `window` after the marker (so far) against
    the `window` before it; holds from the first `interval` boundary where the rate after is at
    least `factor` times the rate before, at least `min_count` errors came after, and each side
    has at least `min_total` records."""

    name = "changed_after_marker"
    summary = (
        "error rate {ratio_pct} after {marker}, {previous_pct} before ({count} errors in {total} records)"
    )
    options = (
        duration("window", 3600 * SECOND, positive=True),
        number("factor", 2.0, 1, exclusive=True),
        integer("min_count", 10),
        integer("min_total", 30),
        duration("interval", 60 * SECOND, positive=True),
    )
    counting = False

    def group_names(self, rule: Rule) -> list[str]:
        return ["source", "marker"]

    def condition(self, rule: Rule, ready_at: int) -> Condition:
        raise ValueError("a changed_after_marker rule is evaluated on the stored records")
