"""What a rule is: the parsed, validated form of one `[[rule]]` table, and durations."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cached_property

from logscope.alerting.durations import SECOND, format_duration, parse_duration
from logscope.alerting.kinds import KINDS as KIND_CLASSES
from logscope.alerting.kinds import RuleKind

KINDS = tuple(KIND_CLASSES)
SEVERITIES = ("info", "warning", "error", "critical")
__all__ = ["KINDS", "SECOND", "SEVERITIES", "ActionSpec", "Rule", "format_duration", "parse_duration"]


@dataclass
class ActionSpec:
    """A named action from a rule file's `[actions.NAME]` table."""

    name: str
    type: str  # "exec", "webhook" or "alertmanager"
    command: list[str] = dc_field(default_factory=list)
    url: str = ""
    urls: list[str] = dc_field(default_factory=list)  # alertmanager: every instance (url is the first)
    headers: dict[str, str] = dc_field(default_factory=dict)
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5
    file: str = ""
    # alertmanager: seconds between re-posts of firing alerts, and the generatorURL template.
    resend: float = 60.0
    generator_url: str = ""


@dataclass
class Rule:
    """One alert rule. Times are microseconds; `where` and `total` are DuckDB SQL predicates."""

    name: str
    kind: str
    file: str = ""
    description: str = ""
    severity: str = "warning"
    labels: dict[str, str] = dc_field(default_factory=dict)
    where: str = "true"
    group_by: list[str] = dc_field(default_factory=list)
    window: int = 5 * 60 * SECOND
    threshold: int = 1
    ratio: float = 0.0
    total: str = "true"
    min_total: int = 1
    factor: float = 2.0
    min_count: int = 1
    field: list[str] = dc_field(default_factory=list)
    learn: int = 0
    max_values: int = 100_000
    history: int = 30 * 86400 * SECOND  # new_value: how far back stored values are known
    query: str = ""
    interval: int = 60 * SECOND
    lookback: int = 3600 * SECOND
    for_: int = 0
    renotify: int = 3600 * SECOND
    summary: str = ""
    actions: list[str] = dc_field(default_factory=list)
    field_types: dict[str, str] = dc_field(default_factory=dict)
    extract: dict[str, str] = dc_field(default_factory=dict)  # name -> SQL expression, per record
    errors_only: bool = False  # new_pattern: only records at level error or worse

    @cached_property
    def spec(self) -> RuleKind:
        """The rule's kind (kinds/): its options, condition and bound."""
        return KIND_CLASSES[self.kind]

    @property
    def group_names(self) -> list[str]:
        """The names that make up an alert's group: `group_by`, or `field` for new_value."""
        return self.spec.group_names(self)

    def default_summary(self) -> str:
        group = " ".join(f"{name}={{{name}}}" for name in self.group_names)
        suffix = f" ({group})" if group else ""
        return f"{self.name}: {self.spec.summary}{suffix}"
