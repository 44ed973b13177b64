"""Before and after a change: the statements `logscope compare` (and the TUI's compare view) run,
and how their rows become one comparison per source (docs/compare.md).

Every statement is one SELECT of literals, so it runs on a file or over the query service alike;
`Fetch` is whichever of the two the caller has."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from logscope.record import LEVEL_RANK, LEVELS
from logscope.store.change_stats import RateJudgement, judge_rates, shift_of
from logscope.store.sql_text import string_literal, time_literal

Fetch = Callable[[str], list[tuple]]

ERROR_LEVELS = tuple(name for name in LEVELS if LEVEL_RANK[name] >= LEVEL_RANK["error"])
MAX_FIELD_VALUES = 50  # a field with more distinct values among errors (ids, times) is not compared
ABSENT = "(absent)"


@dataclass
class Windows:
    """[before_start, before_end) against [after_start, after_end); None is open-ended."""

    before_start: dt.datetime | None
    before_end: dt.datetime
    after_start: dt.datetime
    after_end: dt.datetime | None
    source: str | None = None  # a glob; None: every source

    def side_sql(self) -> str:
        """`'before'`, `'after'` or NULL for a record's `ts`."""

        def inside(start: dt.datetime | None, end: dt.datetime | None) -> str:
            lower = f"ts >= {time_literal(start)}" if start else "TRUE"
            parts = [lower, f"ts < {time_literal(end)}" if end else "TRUE"]
            return " AND ".join(parts)

        return (
            f"CASE WHEN {inside(self.after_start, self.after_end)} THEN 'after'"
            f" WHEN {inside(self.before_start, self.before_end)} THEN 'before' END"
        )

    def chosen_sql(self, columns: str) -> str:
        """The records of either side, with `side`."""
        where = f" AND source GLOB {string_literal(self.source)}" if self.source else ""
        return f"SELECT {columns}, {self.side_sql()} AS side FROM logs WHERE side IS NOT NULL{where}"


def _errors() -> str:
    return f"level IN ({', '.join(string_literal(level) for level in ERROR_LEVELS)})"


def rates_sql(windows: Windows) -> str:
    """Per source and side: records, error records, first and last event time."""
    return f"""
SELECT source, side, count(*) AS records, count(*) FILTER (WHERE {_errors()}) AS errors
FROM ({windows.chosen_sql("source, level, ts")})
GROUP BY ALL ORDER BY ALL
"""


def patterns_sql(windows: Windows) -> str:
    """Per source and pattern: its records on each side, its first record after, and when it was
    first seen at all (any source, any time)."""
    return f"""
WITH chosen AS ({windows.chosen_sql("id, source, ts")})
SELECT chosen.source, root.id AS pattern,
       count(*) FILTER (WHERE side = 'before') AS before,
       count(*) FILTER (WHERE side = 'after') AS after,
       min(chosen.ts) FILTER (WHERE side = 'after') AS first_after,
       root.first_seen
FROM chosen
JOIN record_patterns USING (id)
JOIN patterns p ON p.id = record_patterns.pattern_id
JOIN patterns root ON root.id = coalesce(p.merged_into, p.id)
GROUP BY ALL
"""


def pattern_facts_sql(ids: list[int]) -> str:
    """Template and example of the patterns with these ids."""
    listed = ", ".join(str(int(i)) for i in ids) or "NULL"
    return f"SELECT id, template, example FROM patterns WHERE id IN ({listed})"


def fields_sql(windows: Windows) -> str:
    """Among error records, per source, field and value: records on each side (with `host`).
    Fields with more than MAX_FIELD_VALUES distinct values are left out."""
    return f"""
WITH chosen AS ({windows.chosen_sql("source, host, level, fields")}),
errors AS (SELECT * FROM chosen WHERE {_errors()}),
pairs AS (
    SELECT source, side, key, json_extract_string(fields, '$."' || replace(key, '"', '\\"') || '"') AS value
    FROM errors, unnest(json_keys(fields)) AS t(key)
    WHERE fields IS NOT NULL AND json_type(fields) = 'OBJECT'
    UNION ALL
    SELECT source, side, 'host', host FROM errors WHERE host IS NOT NULL
),
counted AS (
    SELECT source, key, value,
           count(*) FILTER (WHERE side = 'before') AS before,
           count(*) FILTER (WHERE side = 'after') AS after
    FROM pairs WHERE value IS NOT NULL GROUP BY ALL
),
ranked AS (SELECT *, count(*) OVER (PARTITION BY source, key) AS distinct_values FROM counted)
SELECT source, key, value, before, after FROM ranked
WHERE distinct_values <= {MAX_FIELD_VALUES}
ORDER BY ALL
"""


@dataclass
class Side:
    records: int = 0
    errors: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.records if self.records else None


@dataclass
class PatternChange:
    id: int
    template: str
    before: int
    after: int
    before_rate: float
    after_rate: float
    first_after: dt.datetime | None = None
    example: str | None = None


@dataclass
class FieldShift:
    field: str
    shift: float  # total variation distance of the value shares, 0..1
    value: str  # the value whose share grew most
    before_share: float
    after_share: float


@dataclass
class SourceComparison:
    source: str
    before: Side
    after: Side
    judgement: RateJudgement
    new_patterns: list[PatternChange] = field(default_factory=list)
    changed_patterns: list[PatternChange] = field(default_factory=list)
    shifted_fields: list[FieldShift] = field(default_factory=list)


def compare(fetch: Fetch, windows: Windows, top: int = 5) -> list[SourceComparison]:
    """One comparison per source with records on either side, by source name."""
    sides: dict[str, dict[str, Side]] = {}
    for source, side, records, errors in fetch(rates_sql(windows)):
        sides.setdefault(source, {"before": Side(), "after": Side()})[side] = Side(records, errors)
    patterns = _pattern_rows(fetch, windows)
    fields = _field_rows(fetch, windows)
    result = []
    for source in sorted(sides):
        before, after = sides[source]["before"], sides[source]["after"]
        new, changed = _pattern_changes(patterns.get(source, []), before, after, windows.before_end, top)
        result.append(
            SourceComparison(
                source=source,
                before=before,
                after=after,
                judgement=judge_rates(before.errors, before.records, after.errors, after.records),
                new_patterns=new,
                changed_patterns=changed,
                shifted_fields=_field_shifts(fields.get(source, {}), before.errors, after.errors, top),
            )
        )
    _fill_pattern_facts(fetch, result)
    return result


def _pattern_rows(fetch: Fetch, windows: Windows) -> dict[str, list[tuple]]:
    rows: dict[str, list[tuple]] = {}
    for source, pattern, before, after, first_after, first_seen in fetch(patterns_sql(windows)):
        rows.setdefault(source, []).append((pattern, before, after, first_after, first_seen))
    return rows


def _pattern_changes(
    rows: list[tuple], before: Side, after: Side, cut: dt.datetime, top: int
) -> tuple[list[PatternChange], list[PatternChange]]:
    """New patterns: none of the source's records before, and never seen anywhere before `cut`
    (most records first); and the others whose share of the source's records changed most."""
    never_before = {row[0] for row in rows if row[4] is not None and row[4] >= cut}
    changes = [
        PatternChange(
            id=pattern,
            template="",
            before=n_before,
            after=n_after,
            before_rate=n_before / before.records if before.records else 0.0,
            after_rate=n_after / after.records if after.records else 0.0,
            first_after=first_after,
        )
        for pattern, n_before, n_after, first_after, _ in rows
    ]
    new = [c for c in changes if c.before == 0 and c.after > 0 and c.id in never_before]
    new.sort(key=lambda c: (-c.after, c.id))
    seen = [c for c in changes if c.id not in never_before and before.records and after.records]
    seen.sort(key=lambda c: (-abs(c.after_rate - c.before_rate), c.id))
    return new[:top], [c for c in seen[:top] if c.after_rate != c.before_rate]


def _fill_pattern_facts(fetch: Fetch, result: list[SourceComparison]) -> None:
    shown = [c for r in result for c in (*r.new_patterns, *r.changed_patterns)]
    if not shown:
        return
    facts = {row[0]: row[1:] for row in fetch(pattern_facts_sql(sorted({c.id for c in shown})))}
    for change in shown:
        change.template, change.example = facts.get(change.id, ("", None))


def _field_rows(fetch: Fetch, windows: Windows) -> dict[str, dict[str, dict[str, tuple[int, int]]]]:
    rows: dict[str, dict[str, dict[str, tuple[int, int]]]] = {}
    for source, key, value, before, after in fetch(fields_sql(windows)):
        rows.setdefault(source, {}).setdefault(key, {})[value] = (before, after)
    return rows


def _field_shifts(
    fields: dict[str, dict[str, tuple[int, int]]], errors_before: int, errors_after: int, top: int
) -> list[FieldShift]:
    """Fields whose value shares among error records moved most (as Honeycomb's BubbleUp)."""
    if not errors_before or not errors_after:
        return []
    shifts = []
    for key, values in fields.items():
        counts = dict(values)
        absent = (
            errors_before - sum(b for b, _ in counts.values()),
            errors_after - sum(a for _, a in counts.values()),
        )
        if absent[0] > 0 or absent[1] > 0:
            counts[ABSENT] = absent
        distance, value = shift_of(counts, errors_before, errors_after)
        if distance > 0:
            before_n, after_n = counts[value]
            shifts.append(FieldShift(key, distance, value, before_n / errors_before, after_n / errors_after))
    shifts.sort(key=lambda s: (-s.shift, s.field))
    return shifts[:top]
