"""The records behind an alert: those its rule counted in the window that made it fire."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import duckdb

from logscope.tui.alerts_panel import NAME_COLUMNS, alert_group_predicate, pick
from logscope.tui.filters import FilterError, FilterState, TimeRange
from logscope.tui.histogram import describe_span
from logscope.tui.predicate import with_typed_fields

if TYPE_CHECKING:
    from logscope.alerting.model import Rule

FIRED_COLUMNS = ("fired_at", "first_at", "ts")


@functools.cache
def bundled_rules() -> dict[str, Rule]:
    """The bundled rule packs by name (the rules `tail` runs unless told not to)."""
    from logscope.alerting.loader import load_paths  # (the rules engine, once an alert is chosen)

    return {rule.name: rule for rule in load_paths([], builtin=True).rules}


def window_filter(
    alert: dict[str, Any],
    rules: dict[str, Rule],
    field_types: dict[str, str],
    con: duckdb.DuckDBPyConnection,
    zone: tzinfo = UTC,
) -> FilterState | None:
    """The records the alert's rule counted in the window before it fired (in its group);
    None when the rule or the firing time is not known."""
    name = str(pick(alert, NAME_COLUMNS, ""))
    rule = rules.get(name)
    fired = pick(alert, FIRED_COLUMNS)
    if rule is None or not isinstance(fired, datetime) or not _window_made_it_fire(rule):
        return None  # e.g. an absence fires on records that did not come: its group shows instead
    try:
        where, _ = with_typed_fields(con, rule.where, {**field_types, **rule.field_types})
    except FilterError:
        return None
    group = alert_group_predicate(alert)
    in_group = f" AND {group}" if group else ""
    until = int(fired.timestamp() * 1_000_000)
    since = until - rule.window
    return FilterState(
        predicate=f"({where}){in_group}",
        typed=f"({rule.where}){in_group}",  # what the filter bar shows: it works typed there too
        time_range=TimeRange(since=since, until=until),
        time_text=f"{_iso(since, zone)}..{_iso(until, zone)}",
        label=f"alert {name}: the {describe_span(rule.window)} before it fired",
    )


def _window_made_it_fire(rule: Rule) -> bool:
    from logscope.alerting.kinds import KINDS  # (the rules engine, once an alert is chosen)

    kind = KINDS.get(rule.kind)
    return kind is not None and kind.window_made_it_fire


def _iso(moment_us: int, zone: tzinfo) -> str:
    """The time as the time-range box reads it (naive times are in the view's zone)."""
    moment = datetime.fromtimestamp(moment_us / 1_000_000, zone)
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")
