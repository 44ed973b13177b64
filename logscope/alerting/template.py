"""Summary templates: `{name}` and `{name:spec}` placeholders, nothing else (no attribute access)."""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}")

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


def render(template: str, values: dict[str, Any]) -> str:
    """Fill in the placeholders; a missing value renders as `-`, a bad spec as the plain value."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            return "-"
        spec = match.group(2)
        if spec:
            try:
                return format(value, spec)
            except (ValueError, TypeError):
                return str(value)
        return str(value)

    return PLACEHOLDER.sub(fill, template)
