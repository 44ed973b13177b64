"""From a batch's predicate table to each group's arrivals: one SQL query per batch for all rules.

Arrivals are (ts, matching records, total records, last matching id) per rule, group and instant.
For counting rules with groups (threshold, spike, ratio), groups that cannot reach the condition
in any window of the batch are not handed to Python at all: their arrivals wait in an Arrow
backlog, checked in bulk with each batch, until a group could fire (then it is replayed exactly).
A window of length w overlaps at most two consecutive w-long buckets, so the sum of two
neighbouring buckets bounds every window's count.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from logscope.alerting.model import Rule
from logscope.alerting.predicates import RulePlan
from logscope.alerting.windows import Arrival

BACKLOG_KINDS = ("threshold", "spike", "ratio")
SEPARATOR, NULL = "\x1f", "\x00"
BACKLOG = pa.schema(
    [
        ("rule", pa.int32()),
        ("key", pa.string()),
        ("tsu", pa.int64()),
        ("hits", pa.int64()),
        ("totals", pa.int64()),
        ("last_id", pa.int64()),
    ]
)
_PARAMS = pa.schema(
    [
        ("rule", pa.int32()),
        ("width", pa.int64()),
        ("horizon", pa.int64()),
        ("on_totals", pa.bool_()),
        ("bound", pa.int64()),
    ]
)


def key_text(key: tuple) -> str:
    """A group's key as the query writes it."""
    return SEPARATOR.join(NULL if value is None else value for value in key)


def key_tuple(text: str, groups: int) -> tuple:
    if groups == 0:
        return ()
    return tuple(None if value == NULL else value for value in text.split(SEPARATOR))


class ArrivalCollector:
    """Builds and runs the batch's arrivals query over the predicate table `r`; keeps the backlog."""

    def __init__(self, plans: list[RulePlan]) -> None:
        # Every counting rule gets a number for good: the backlog's `rule` column.
        self.numbers = {plan.rule.name: number for number, plan in enumerate(plans)}
        self.groups = {number: len(plan.groups) for number, plan in enumerate(plans)}
        self.names = {number: plan.rule.name for number, plan in enumerate(plans)}
        self.backlogged = [(number, plan.rule) for number, plan in enumerate(plans)
                           if plan.rule.kind in BACKLOG_KINDS and plan.rule.group_names]  # fmt: skip
        self.backlog = BACKLOG.empty_table()

    def collect(
        self,
        con: duckdb.DuckDBPyConnection,
        plans: list[tuple[int, RulePlan]],
        now: int,
        live: dict[str, list[tuple]],
    ) -> dict[str, dict[tuple, list[Arrival]]]:
        """Per rule name, the arrivals of each group Python must step through, in time order.

        `plans` are (column index in `r`, plan) of the rules with records in this batch; `live`
        the groups each rule already holds in Python (always stepped through).
        """
        selects = [_select(self.numbers[plan.rule.name], index, plan) for index, plan in plans]
        params = [_params(number, rule, now) for number, rule in self.backlogged]
        live_rules, live_keys = [], []
        for name, keys in live.items():
            number = self.numbers.get(name)
            if number is not None:
                live_rules += [number] * len(keys)
                live_keys += [key_text(key) for key in keys]
        con.register("backlog", self.backlog)
        con.register("params", pa.Table.from_pylist(params, schema=_PARAMS))
        con.register(
            "live",
            pa.table({"rule": pa.array(live_rules, pa.int32()), "key": pa.array(live_keys, pa.string())}),
        )
        try:
            table = con.sql(_QUERY.format(arrivals=" UNION ALL ".join(selects))).to_arrow_table()
        finally:
            for name in ("backlog", "params", "live"):
                con.unregister(name)
        self.backlog = table.filter(table["keep"]).select(BACKLOG.names).cast(BACKLOG)
        return _split(table.filter(table["hot"]), self.names, self.groups)

    def forget(self, name: str) -> None:
        """Drop a rule (it failed and was disabled)."""
        number = self.numbers.pop(name, None)
        self.backlogged = [(n, rule) for n, rule in self.backlogged if n != number]


def _select(number: int, index: int, plan: RulePlan) -> str:
    groups = [f"coalesce(g{index}_{n}, chr(0))" for n in range(len(plan.groups))]
    key = f"concat_ws(chr(31), {', '.join(groups)})" if groups else "''"
    match, total = f"m{index}", f"t{index}" if plan.total is not None else None
    totals = f"count(*) FILTER (WHERE {total})" if total else "0::BIGINT"
    where = f"{match} OR {total}" if total else match
    return (
        f"SELECT {number}::INTEGER AS rule, {key} AS key, epoch_us(ts) AS tsu,"
        f" count(*) FILTER (WHERE {match}) AS hits, {totals} AS totals,"
        f" max(id) FILTER (WHERE {match}) AS last_id FROM r WHERE {where} GROUP BY ALL"
    )


def _params(number: int, rule: Rule, now: int) -> dict:
    """The bound a backlogged rule's groups must reach to be stepped through in Python."""
    window = rule.window
    span = 2 * window if rule.kind == "spike" else window
    if rule.kind == "threshold":
        on_totals, bound = False, rule.threshold
    elif rule.kind == "spike":
        on_totals, bound = False, rule.min_count
    else:
        on_totals, bound = True, rule.min_total
    return {"rule": number, "width": window, "horizon": now - span, "on_totals": on_totals, "bound": bound}


_NEXT = "CASE WHEN lead(bucket) OVER w = bucket + 1 THEN lead({0}) OVER w ELSE 0 END"
_QUERY = f"""
WITH c AS (SELECT * FROM ({{arrivals}}) UNION ALL BY NAME SELECT * FROM backlog),
b AS (SELECT c.rule, key, tsu // width AS bucket, sum(hits) AS h, sum(totals) AS t
      FROM c JOIN params USING (rule) GROUP BY ALL),
p AS (SELECT rule, key, h, h + {_NEXT.format("h")} AS h2, t + {_NEXT.format("t")} AS t2
      FROM b WINDOW w AS (PARTITION BY rule, key ORDER BY bucket)),
hot AS (SELECT rule, key FROM p JOIN params USING (rule) GROUP BY rule, key, on_totals, bound
        HAVING CASE WHEN on_totals THEN max(t2) >= bound AND sum(h) > 0 ELSE max(h2) >= bound END
        UNION SELECT rule, key FROM live)
SELECT c.*, params.rule IS NULL OR hot.key IS NOT NULL AS hot,
       params.rule IS NOT NULL AND hot.key IS NULL AND tsu > horizon AS keep
FROM c LEFT JOIN params USING (rule) LEFT JOIN hot USING (rule, key)
ORDER BY c.rule, key, tsu
"""


def _split(
    table: pa.Table, names: dict[int, str], groups: dict[int, int]
) -> dict[str, dict[tuple, list[Arrival]]]:
    """Rows ordered by rule, key and time, as {rule name: {group: [arrival, ...]}}."""
    result: dict[str, dict[tuple, list[Arrival]]] = {}
    if table.num_rows == 0:
        return result
    columns = [table[name].to_pylist() for name in ("rule", "key", "tsu", "hits", "totals", "last_id")]
    current_rule, current_key, items = None, None, None
    for number, key, ts, hits, totals, last_id in zip(*columns, strict=True):
        if number != current_rule or key != current_key:
            current_rule, current_key = number, key
            items = result.setdefault(names[number], {}).setdefault(key_tuple(key, groups[number]), [])
        items.append((ts, hits, totals, last_id))
    return result
