"""The kinds that count matching records in a sliding window: match, threshold, ratio, spike,
absence. Each writes its condition once, as the closure `condition` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from logscope.alerting.kinds.base import (
    GROUP_BY,
    THRESHOLD,
    WHERE,
    WINDOW,
    Bound,
    Condition,
    RuleKind,
    integer,
    number,
    text,
)

if TYPE_CHECKING:
    from logscope.alerting.model import Rule


class Threshold(RuleKind):
    """At least `threshold` matching records in the window."""

    name = "threshold"
    summary = "{count:matching record|matching records} in {window} (threshold {threshold})"
    options = (WHERE, GROUP_BY, WINDOW, THRESHOLD)
    required = ("window", "threshold")
    backlog = True
    window_made_it_fire = True

    def condition(self, rule: Rule, ready_at: int) -> Condition:
        threshold = rule.threshold
        return lambda at, count, total: count >= threshold

    def bound(self, rule: Rule) -> Bound:
        return Bound(False, rule.threshold)


class Match(Threshold):
    """Every matching record: one alert per group while records keep matching within the window."""

    name = "match"
    summary = "{count:matching record|matching records}"
    options = (WHERE, GROUP_BY, WINDOW)
    required = ()
    counts_every_match = True
    backlog = False  # (its bound is one record: every group with a match could fire)
    window_made_it_fire = False  # (one record did: its group shows instead)

    def prepare(self, rule: Rule) -> None:
        rule.threshold = 1


class Ratio(RuleKind):
    """The matching records are at least `ratio` of the `total` records in the window."""

    name = "ratio"
    summary = "{ratio_pct} of {total} records match in {window} (limit {limit_pct})"
    options = (
        WHERE,
        GROUP_BY,
        WINDOW,
        number("ratio", 0.0, 0, exclusive=True, most=1),
        text("total", "true"),
        integer("min_total", 1),
    )
    required = ("window", "ratio")
    has_total = True
    only_falls = False
    backlog = True
    stretch_bound = True
    window_made_it_fire = True

    def condition(self, rule: Rule, ready_at: int) -> Condition:
        ratio, min_total = rule.ratio, rule.min_total
        return lambda at, count, total: total >= min_total and count >= ratio * total

    def bound(self, rule: Rule) -> Bound:
        return Bound(True, rule.min_total)

    def ruled_out(
        self, rule: Rule, ready_at: int, last: int, most: int, least: int, least_total: int
    ) -> bool:
        if rule.ratio < 0:
            return False
        # Holding needs total >= min_total and count >= ratio * total >= ratio * that total.
        return most < rule.ratio * max(least_total, rule.min_total)

    def figures(self, count: int, total: int, previous: int) -> dict[str, Any]:
        share = count / total if total else 0.0
        return {"count": count, "total": total, "ratio": share, "ratio_pct": f"{share:.1%}", "value": share}


class Spike(RuleKind):
    """At least `min_count` matching records, and `factor` times as many as the window before."""

    name = "spike"
    summary = "{count:matching record|matching records} in {window}, was {previous} the window before"
    options = (
        WHERE,
        GROUP_BY,
        WINDOW,
        number("factor", 2.0, 1, exclusive=True),
        integer("min_count", 1),
    )
    required = ("window", "factor")
    two_windows = True
    only_falls = False
    backlog = True

    def ready_at(self, rule: Rule, created: int, origin: int) -> int:
        return origin + 2 * rule.window  # two whole windows seen

    def condition(self, rule: Rule, ready_at: int) -> Condition:
        min_count, factor = rule.min_count, rule.factor
        return lambda at, count, before: at >= ready_at and count >= min_count and count >= factor * before

    def bound(self, rule: Rule) -> Bound:
        return Bound(False, rule.min_count)

    def figures(self, count: int, total: int, previous: int) -> dict[str, Any]:
        return {"count": count, "previous": previous, "value": count / previous if previous else None}


class Absence(RuleKind):
    """Fewer than `threshold` matching records in the window (once a whole window has passed)."""

    name = "absence"
    summary = "only {count:matching record|matching records} in {window} (expected at least {threshold})"
    options = (WHERE, GROUP_BY, WINDOW, THRESHOLD)
    required = ("window",)
    only_falls = False
    stretch_bound = True
    watches_silence = True

    def ready_at(self, rule: Rule, created: int, origin: int) -> int:
        return created + rule.window

    def watched_from_start(self, rule: Rule) -> bool:
        return not rule.group_by

    def condition(self, rule: Rule, ready_at: int) -> Condition:
        threshold = rule.threshold
        return lambda at, count, total: at >= ready_at and count < threshold

    def ruled_out(
        self, rule: Rule, ready_at: int, last: int, most: int, least: int, least_total: int
    ) -> bool:
        return last < ready_at or least >= rule.threshold
