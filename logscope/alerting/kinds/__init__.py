"""The rule kinds, one class each (options, summary, readiness, condition, bound), and the one
place that lists them. To add a counting kind: a RuleKind subclass, one line in KINDS, and one
line in the generator of tests/test_rules_stepping.py (`random_rule`)."""

from __future__ import annotations

from logscope.alerting.kinds.base import Bound, Condition, Option, RuleKind
from logscope.alerting.kinds.first_seen import NewPattern, NewValue
from logscope.alerting.kinds.marker import ChangedAfterMarker
from logscope.alerting.kinds.query import Sql
from logscope.alerting.kinds.windowed import Absence, Match, Ratio, Spike, Threshold

KINDS: dict[str, RuleKind] = {
    kind.name: kind
    for kind in (
        Match(),
        Threshold(),
        Ratio(),
        Spike(),
        Absence(),
        NewValue(),
        NewPattern(),
        Sql(),
        ChangedAfterMarker(),
    )
}

__all__ = ["KINDS", "Bound", "Condition", "Option", "RuleKind"]
