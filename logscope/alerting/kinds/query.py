"""The sql kind: a query over the stored records run every `interval`; each row is an alert."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logscope.alerting.durations import SECOND
from logscope.alerting.kinds.base import GROUP_BY, Condition, RuleKind, duration, text

if TYPE_CHECKING:
    from logscope.alerting.model import Rule


class Sql(RuleKind):
    """A query's rows are the firing groups (alerting/sqlrules.py evaluates it)."""

    name = "sql"
    summary = "query returned a row"
    options = (
        GROUP_BY,
        text("query"),
        duration("interval", 60 * SECOND, positive=True),
        duration("lookback", 3600 * SECOND),
    )
    required = ("query",)
    counting = False

    def condition(self, rule: Rule, ready_at: int) -> Condition:
        raise ValueError("an sql rule's rows are its condition")
