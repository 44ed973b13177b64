"""From a batch's predicate table to each group's arrivals, in one SQL query per rule.

Arrivals are (ts, matching records, total records, last matching id) per group and instant.
For counting rules with groups (threshold, spike, ratio), groups that cannot reach the condition
in any window of the batch are not handed to Python at all: their arrivals wait in an Arrow
backlog, checked in bulk with each batch, until a group could fire (then it is replayed exactly).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from logscope.alerting.model import Rule
from logscope.alerting.predicates import RulePlan
from logscope.alerting.windows import Arrival

BACKLOG_KINDS = ("threshold", "spike", "ratio")


def _schema(groups: int) -> pa.Schema:
    fields = [(f"g{n}", pa.string()) for n in range(groups)]
    fields += [("tsu", pa.int64()), ("hits", pa.int64()), ("totals", pa.int64()), ("last_id", pa.int64())]
    return pa.schema(fields)


class ArrivalCollector:
    """Collects one rule's arrivals from the predicate table `r` registered on `con`."""

    def __init__(self, index: int, plan: RulePlan) -> None:
        self.rule: Rule = plan.rule
        self.groups = len(plan.groups)
        self.backlogged = self.rule.kind in BACKLOG_KINDS and self.groups > 0
        self.schema = _schema(self.groups)
        self.backlog = self.schema.empty_table()
        self.set_index(index, plan)

    def set_index(self, index: int, plan: RulePlan) -> None:
        """The rule's columns in `r` (they move when failing rules are dropped)."""
        self.index = index
        columns = [f"g{index}_{n} AS g{n}" for n in range(self.groups)]
        match, total = f"m{index}", f"t{index}" if plan.total is not None else None
        totals = f"count(*) FILTER (WHERE {total})" if total else "0::BIGINT"
        where = f"{match} OR {total}" if total else match
        self.select = (
            f"SELECT {', '.join([*columns, ''])}epoch_us(ts) AS tsu, count(*) FILTER (WHERE {match}) AS hits,"
            f" {totals} AS totals, max(id) FILTER (WHERE {match}) AS last_id"
            f" FROM r WHERE {where} GROUP BY ALL"
        )

    def collect(
        self, con: duckdb.DuckDBPyConnection, now: int, live: list[tuple]
    ) -> dict[tuple, list[Arrival]]:
        """Arrivals per group for Python to step through; `live` are the groups Python holds."""
        if not self.backlogged:
            return _by_group(con.sql(self.select + " ORDER BY tsu").to_arrow_table(), self.groups)
        con.register("backlog", self.backlog)
        con.register("live", pa.table({"key": pa.array([_key_text(key) for key in live], pa.string())}))
        try:
            table = con.sql(self._backlog_sql(now)).to_arrow_table()
        finally:
            con.unregister("backlog")
            con.unregister("live")
        hot = table.filter(table["hot"])
        self.backlog = table.filter(table["keep"]).select(self.schema.names).cast(self.schema)
        return _by_group(hot, self.groups)

    def _backlog_sql(self, now: int) -> str:
        rule = self.rule
        window = rule.window
        key = "concat_ws(chr(31), " + ", ".join(f"coalesce(g{n}, chr(0))" for n in range(self.groups)) + ")"
        horizon = now - (2 * window if rule.kind == "spike" else window)
        if rule.kind == "threshold":
            bound = f"max(h2) >= {rule.threshold}"
        elif rule.kind == "spike":
            bound = f"max(h2) >= {rule.min_count}"
        else:
            bound = f"max(t2) >= {rule.min_total} AND sum(h) > 0"
        following = "CASE WHEN lead(bucket) OVER w = bucket + 1 THEN lead({0}) OVER w ELSE 0 END"
        return f"""
            WITH c AS (SELECT * FROM ({self.select}) UNION ALL BY NAME SELECT * FROM backlog),
            k AS (SELECT *, {key} AS key, tsu // {window} AS bucket FROM c),
            b AS (SELECT key, bucket, sum(hits) AS h, sum(totals) AS t FROM k GROUP BY key, bucket),
            p AS (SELECT key, h, h + {following.format("h")} AS h2, t + {following.format("t")} AS t2
                  FROM b WINDOW w AS (PARTITION BY key ORDER BY bucket)),
            hot AS (SELECT key FROM p GROUP BY key HAVING {bound} UNION SELECT key FROM live)
            SELECT k.* EXCLUDE (key, bucket), hot.key IS NOT NULL AS hot,
                   hot.key IS NULL AND tsu > {horizon} AS keep
            FROM k LEFT JOIN hot USING (key) ORDER BY tsu
        """


def _key_text(key: tuple) -> str:
    """A group's key as the SQL above writes it."""
    return "\x1f".join("\x00" if value is None else value for value in key)


def _by_group(table: pa.Table, groups: int) -> dict[tuple, list[Arrival]]:
    if table.num_rows == 0:
        return {}
    columns = [table[f"g{n}"].to_pylist() for n in range(groups)]
    keys = zip(*columns, strict=True) if columns else (() for _ in range(table.num_rows))
    rows = zip(
        table["tsu"].to_pylist(),
        table["hits"].to_pylist(),
        table["totals"].to_pylist(),
        table["last_id"].to_pylist(),
        strict=True,
    )
    result: dict[tuple, list[Arrival]] = {}
    for key, row in zip(keys, rows, strict=True):
        items = result.get(key)
        if items is None:
            result[key] = [row]
        else:
            items.append(row)
    return result
