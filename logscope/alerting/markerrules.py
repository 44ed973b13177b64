"""`changed_after_marker` rules: at each `interval` of event time, per change marker and source,
the error rate in the `window` after the marker (up to now) against the `window` before it.

The markers are those of the `markers` table made by hand (`logscope mark`) and the points where
a source's `version` field changed among the stored records, found here from the records (so
`rules test` and `rules backtest`, whose stores have no marker rows, see them too)."""

from __future__ import annotations

from typing import Any

import duckdb

from logscope.alerting.lifecycle import IntervalRule, Tracker
from logscope.alerting.model import Rule
from logscope.store.compare import ERROR_LEVELS
from logscope.store.markers import BY_HAND
from logscope.store.version_markers import VERSION_EXPRESSION

_ERRORS = f"l.level IN ({', '.join(repr(level) for level in ERROR_LEVELS)})"

# Parameters: now, lookback (µs) and the window (µs). A marker counts while now - lookback <
# marker <= now; `scope` is a source name, or NULL for every source.
RATES_SQL = f"""
WITH bounds AS (
    SELECT make_timestamptz($now::BIGINT) AS now,
           make_timestamptz(($now - $lookback)::BIGINT) AS oldest,
           to_microseconds($window::BIGINT) AS span
),
by_hand AS (
    SELECT m.ts, m.source AS scope, m.text FROM markers m, bounds
    WHERE m.origin = '{BY_HAND}' AND m.ts <= bounds.now AND m.ts > bounds.oldest
),
versioned AS (
    SELECT l.id, l.ts, l.source, {VERSION_EXPRESSION} AS version
    FROM logs l, bounds
    WHERE l.ts > bounds.oldest - bounds.span AND l.ts <= bounds.now AND l.fields IS NOT NULL
),
stepped AS (
    SELECT ts, source, version, lag(version) OVER (PARTITION BY source ORDER BY ts, id) AS previous
    FROM versioned WHERE version IS NOT NULL
),
from_versions AS (
    SELECT stepped.ts, source AS scope, source || ': version ' || previous || ' → ' || version AS text
    FROM stepped, bounds
    WHERE previous IS NOT NULL AND previous <> version AND stepped.ts > bounds.oldest
),
marks AS (SELECT * FROM by_hand UNION ALL SELECT * FROM from_versions)
SELECT l.source, m.text AS marker,
       count(*) FILTER (WHERE l.ts < m.ts) AS records_before,
       count(*) FILTER (WHERE l.ts < m.ts AND {_ERRORS}) AS errors_before,
       count(*) FILTER (WHERE l.ts >= m.ts) AS records_after,
       count(*) FILTER (WHERE l.ts >= m.ts AND {_ERRORS}) AS errors_after
FROM marks m, bounds
JOIN logs l ON l.ts >= m.ts - bounds.span AND l.ts < m.ts + bounds.span AND l.ts <= bounds.now
WHERE m.scope IS NULL OR l.source = m.scope
GROUP BY ALL
"""


def rate_rose(
    rule: Rule, records_before: int, errors_before: int, records_after: int, errors_after: int
) -> bool:
    """The rule's condition: enough records on both sides, at least `min_count` errors after, and
    the rate after at least `factor` times the rate before."""
    if min(records_before, records_after) < rule.min_total or errors_after < rule.min_count:
        return False
    return errors_after * records_before >= rule.factor * errors_before * records_after


class MarkerRule(IntervalRule):
    """Runs one changed_after_marker rule at each multiple of its interval the event clock passes
    (the same clock as `sql` rules: alerting/sqlrules.py)."""

    def run_at(self, at: int, store: duckdb.DuckDBPyConnection | None) -> None:
        holding = {key: values for key, values in self._rates(at, store)}
        for key, values in holding.items():
            tracker = self.trackers.get(key)
            if tracker is None:
                tracker = self.trackers[key] = Tracker(self.rule, key, self.outbox)
            tracker.observe(at, True, values)
        for key in [key for key in self.trackers if key not in holding]:
            tracker = self.trackers[key]
            tracker.observe(at, False, {})
            if not tracker.busy:
                del self.trackers[key]

    def _rates(self, at: int, store: duckdb.DuckDBPyConnection | None) -> list[tuple[tuple, dict[str, Any]]]:
        if store is None:
            return []
        rule = self.rule
        # A marker is watched for one window after it (the after side is full then).
        params = {"now": at, "lookback": rule.window, "window": rule.window}
        rows = store.execute(RATES_SQL, params).fetchall()
        found = []
        for source, marker, records_before, errors_before, records_after, errors_after in rows:
            if rate_rose(rule, records_before, errors_before, records_after, errors_after):
                before = errors_before / records_before
                after = errors_after / records_after
                values = {
                    "source": source,
                    "marker": marker,
                    "count": errors_after,
                    "total": records_after,
                    "previous": errors_before,
                    "value": after / before if before else None,
                    "ratio": after,
                    "ratio_pct": f"{after:.1%}",
                    "previous_pct": f"{before:.1%}",
                    "factor": rule.factor,
                }
                found.append(((source, marker), values))
        return found
