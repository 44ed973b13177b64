"""What a rule is: the parsed, validated form of one `[[rule]]` table, and durations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field

KINDS = ("match", "threshold", "ratio", "spike", "absence", "new_value", "sql")
SEVERITIES = ("info", "warning", "error", "critical")

SECOND = 1_000_000
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_US = {"ms": 1_000, "s": SECOND, "m": 60 * SECOND, "h": 3600 * SECOND, "d": 86400 * SECOND}
_UNIT_US["w"] = 7 * _UNIT_US["d"]


def parse_duration(text: str) -> int | None:
    """Microseconds for `500ms`, `30s`, `5m`, `1h30m`, `2d`, `1w`; None when not a duration."""
    text = text.strip()
    if text in ("0", ""):
        return 0 if text == "0" else None
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_US[match.group(2)]
        position = match.end()
    return round(total) if position == len(text) else None


def format_duration(micros: int) -> str:
    """The shortest of `1h30m`-style text for a duration (inverse of parse_duration)."""
    if micros == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_US[unit]
        if micros >= size:
            parts.append(f"{micros // size}{unit}")
            micros %= size
    if micros:
        parts.append(f"{micros // 1000}ms" if micros % 1000 == 0 else f"{micros}us")
    return "".join(parts)


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

    @property
    def group_names(self) -> list[str]:
        """The names that make up an alert's group: `group_by`, or `field` for new_value."""
        return self.field if self.kind == "new_value" else self.group_by

    def default_summary(self) -> str:
        group = " ".join(f"{name}={{{name}}}" for name in self.group_names)
        suffix = f" ({group})" if group else ""
        texts = {
            "match": "{count} matching records",
            "threshold": "{count} matching records in {window} (threshold {threshold})",
            "ratio": "{ratio_pct} of {total} records match in {window} (limit {limit_pct})",
            "spike": "{count} matching records in {window}, was {previous} the window before",
            "absence": "only {count} matching records in {window} (expected at least {threshold})",
            "new_value": "new value first seen",
            "sql": "query returned a row",
        }
        return f"{self.name}: {texts[self.kind]}{suffix}"
