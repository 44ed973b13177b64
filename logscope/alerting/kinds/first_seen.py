"""The kinds where a group value met for the first time (after `learn`) opens an alert:
new_value (the values of `field`) and new_pattern (the message's pattern)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logscope.alerting.durations import SECOND
from logscope.alerting.kinds.base import WHERE, Option, OptionReader, duration, integer, names
from logscope.alerting.kinds.windowed import Match
from logscope.patterns.masking import MASK_PATTERN, VARIABLE

if TYPE_CHECKING:
    from logscope.alerting.model import Rule

WINDOW = duration("window", 5 * 60 * SECOND)  # (0s: an alert per record)
FIRST_SEEN_OPTIONS = (
    duration("learn", 0),
    integer("max_values", 100_000),
    duration("history", 30 * 86400 * SECOND),
)


class NewValue(Match):
    """A value of `field` met for the first time; its repeats join the alert while it lasts."""

    name = "new_value"
    summary = "new value first seen"
    options = (WHERE, WINDOW, names("field"), *FIRST_SEEN_OPTIONS)
    required = ("field",)
    first_seen = True

    def group_names(self, rule: Rule) -> list[str]:
        return rule.field


# The message masked as the pattern miner masks it (patterns/masking.py: the same RE2
# expression), in SQL: known the moment a record arrives, in every run alike.
PATTERN_SQL = "regexp_replace(message, '{}', '{}', 'g')".format(MASK_PATTERN.replace("'", "''"), VARIABLE)
ERROR_LEVELS = "level IN ('error', 'critical', 'fatal', 'alert', 'emergency')"


def _errors_only(reader: OptionReader, key: str) -> bool:
    return bool(reader.get(key, bool, "true or false", False))


class NewPattern(NewValue):
    """A pattern of message never seen before (the message with its variable parts masked)."""

    name = "new_pattern"
    summary = "new pattern first seen"
    options = (WHERE, WINDOW, Option("errors_only", _errors_only), *FIRST_SEEN_OPTIONS)
    required = ()

    def prepare(self, rule: Rule) -> None:
        super().prepare(rule)
        rule.field = ["pattern"]
        rule.extract = {**rule.extract, "pattern": PATTERN_SQL}
        if rule.errors_only:
            rule.where = ERROR_LEVELS if rule.where == "true" else f"({rule.where}) AND {ERROR_LEVELS}"
