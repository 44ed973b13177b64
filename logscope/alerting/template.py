"""Summary templates: `{name}` and `{name:spec}` placeholders, nothing else (no attribute access).

A spec with a `|` names a count's noun, singular then plural: `{count:kernel line|kernel lines}`
gives `1 kernel line`, `2 kernel lines`, `1,204 kernel lines`."""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}")
# A format spec's width and precision at most this (`{count:>999999999}` would be a gigabyte).
SPEC_NUMBER_MAX = 1_000
_SPEC_NUMBERS = re.compile(r"\d+")

# Values every alert has; the group's names (group_by / field) and the rule's labels are added.
SUMMARY_KEYS = frozenset(
    {
        "rule",
        "severity",
        "count",
        "window",
        "threshold",
        "total",
        "ratio",
        "ratio_pct",
        "limit",
        "limit_pct",
        "previous",
        "factor",
        "value",
        "first",
        "last",
        "description",
        "state",
    }
)


def template_names(template: str) -> list[str]:
    """The placeholder names a template uses, in order."""
    return [match.group(1) for match in PLACEHOLDER.finditer(template)]


def spec_problems(template: str) -> list[str]:
    """Placeholders whose format spec asks for a width or precision beyond SPEC_NUMBER_MAX."""
    return [
        f"{{{match.group(0)[1:-1]}}}: a width or precision of at most {SPEC_NUMBER_MAX:,}"
        for match in PLACEHOLDER.finditer(template)
        if _too_wide(match.group(2) or "")
    ]


def _too_wide(spec: str) -> bool:
    return any(int(number) > SPEC_NUMBER_MAX for number in _SPEC_NUMBERS.findall(spec))


def render(template: str, values: dict[str, Any]) -> str:
    """Fill in the placeholders; a missing value renders as `-`, a bad spec as the plain value."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            return "-"
        spec = match.group(2)
        if spec and "|" in spec:
            return counted(value, spec)
        if spec and not _too_wide(spec):
            try:
                return format(value, spec)
            except (ValueError, TypeError):
                return str(value)
        return str(value)

    return PLACEHOLDER.sub(fill, template)


def counted(value: Any, spec: str) -> str:
    """`{count:record|records}`: the number (with thousands separators) and the noun that agrees."""
    singular, _, plural = spec.partition("|")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value} {plural}"
    number = f"{value:,}" if isinstance(value, int) or value != int(value) else f"{int(value):,}"
    return f"{number} {singular if value == 1 else plural}"
