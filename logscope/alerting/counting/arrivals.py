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
import pyarrow.compute as pc

from logscope.alerting.counting.shortcuts import Shortcuts
from logscope.alerting.counting.window import Arrival
from logscope.alerting.model import Rule
from logscope.alerting.predicates import BatchPredicates, RulePlan

SEPARATOR, NULL = "\x1f", "\x00"
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
    """Runs the batch's arrivals statements over its predicate table; keeps the backlog.

    The backlog is a table in the rules' in-memory DuckDB: only groups this batch touches are
    checked against their bound, so the work per batch follows the batch, not the backlog.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, plans: list[RulePlan], shortcuts: Shortcuts = Shortcuts.ALL
    ) -> None:
        # Every counting rule gets a number for good: the backlog's `rule` column.
        self.con = con
        backlog = shortcuts.backlog  # (off: every group's arrivals go to Python)
        self.numbers = {plan.rule.name: number for number, plan in enumerate(plans)}
        self.groups = {number: len(plan.groups) for number, plan in enumerate(plans)}
        self.names = {number: plan.rule.name for number, plan in enumerate(plans)}
        self.backlogged = [(number, plan.rule) for number, plan in enumerate(plans)
                           if backlog and plan.rule.spec.backlog]  # fmt: skip
        # First-seen rules: values Python has already met (and holds no alert for) stay in SQL.
        self.new_value = [
            number for number, plan in enumerate(plans) if backlog and plan.rule.spec.first_seen
        ]
        self.learn_from: dict[int, int] = {}  # new_value rules seeded: where their history starts
        self.unpruned = 0  # records since the backlog was last pruned
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __logscope_backlog (rule INTEGER, key VARCHAR, tsu BIGINT,"
            " hits BIGINT, totals BIGINT, last_id BIGINT)"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE __logscope_seen (rule INTEGER, key VARCHAR)")

    def collect(
        self,
        plans: list[tuple[int, RulePlan]],
        now: int,
        live: dict[str, list[tuple]],
        clock: int | None,
        batch: BatchPredicates,
        origin: int | None = None,
    ) -> dict[str, dict[tuple, list[Arrival]]]:
        """Per rule name, the arrivals of each group Python must step through, in time order.

        `plans` are (column index in the batch's predicate table, plan) of the rules with records
        in this batch; `live`
        the groups each rule already holds in Python (always stepped through); `clock` the event
        time before this batch: a record older than that counts as arriving then; `origin` the
        first event time (new_value rules learn values until `origin + learn`).
        """
        con = self.con
        entries = [_entry(self.numbers[plan.rule.name], index, plan) for index, plan in plans]
        conditions = [
            f"m{index}" + (f" OR t{index}" if plan.total is not None else "") for index, plan in plans
        ]
        params = [_params(number, rule, now) for number, rule in self.backlogged]
        live_rules, live_keys = [], []
        for name, keys in live.items():
            number = self.numbers.get(name)
            if number is not None:
                live_rules += [number] * len(keys)
                live_keys += [key_text(key) for key in keys]
        con.register("__logscope_params", pa.Table.from_pylist(params, schema=_PARAMS))
        con.register("__logscope_live", pa.table({
            "rule": pa.array(live_rules, pa.int32()), "key": pa.array(live_keys, pa.string()),
        }))  # fmt: skip
        try:
            if batch.rows > UNNEST_ROWS:
                selects = []
                for index, plan in plans:
                    number = self.numbers[plan.rule.name]
                    since = self.learn_from.get(number)
                    learn_origin = origin if since is None or origin is None else min(origin, since)
                    known = number in self.new_value
                    selects.append(_select(number, index, plan, clock, batch.name, learn_origin, known))
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE __logscope_arrivals AS {_KNOWN}"
                    f" {' UNION ALL '.join(selects)}"
                )
            else:
                con.execute(arrivals_sql(entries, conditions, clock, batch.name))
            new_value = ", ".join(str(number) for number in self.new_value) or "NULL"
            checked = "__logscope_params"  # the rules whose touched groups are checked one by one
            if batch.rows > UNNEST_ROWS:  # (for a few records, checking all costs less)
                con.execute(_WARM)
                checked = "__logscope_warm"
            con.execute(_HOT.format(new_value=new_value, checked=checked))
            table = con.sql(_HOT_ROWS).to_arrow_table()
            for statement in _KEEP:
                con.execute(statement)
            if self.new_value:
                con.execute(_SEEN.format(new_value=new_value))
            self.unpruned += batch.rows
            if self.unpruned >= PRUNE_RECORDS:
                con.execute(_PRUNE)
                self.unpruned = 0
        finally:
            con.unregister("__logscope_params")
            con.unregister("__logscope_live")
        return _split(table, self.names, self.groups)

    def seed(self, name: str, keys: list[str], since: int) -> None:
        """A new_value rule's values stored before this run (as `key_text`), whose history
        starts at `since`: they are known, as if met, and learning counts from `since`."""
        number = self.numbers[name]
        self.learn_from[number] = since
        if number not in self.new_value:
            return  # (no backlog: Python alone knows them)
        self.con.register("__logscope_seed", pa.table({"key": pa.array(keys, pa.string())}))
        try:
            self.con.execute(
                f"INSERT INTO __logscope_seen SELECT {number}, key FROM __logscope_seed"
                f" ANTI JOIN (SELECT key FROM __logscope_seen WHERE rule = {number}) USING (key)"
            )
        finally:
            self.con.unregister("__logscope_seed")

    def move(self, old: duckdb.DuckDBPyConnection, con: duckdb.DuckDBPyConnection) -> None:
        """Carry the backlog and the values met over from the sandbox `old` to `con`."""
        for name in ("__logscope_backlog", "__logscope_seen"):
            rows = old.sql(f"FROM {name}").to_arrow_table()
            con.register("__logscope_moved", rows)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS FROM __logscope_moved")
            finally:
                con.unregister("__logscope_moved")
        self.con = con

    def forget(self, name: str) -> None:
        """Drop a rule (it failed and was disabled)."""
        number = self.numbers.pop(name, None)
        self.backlogged = [(n, rule) for n, rule in self.backlogged if n != number]


def _entry(number: int, index: int, plan: RulePlan) -> str:
    """One rule's part of a record: its number, group key, whether it matches and counts."""
    key = key_sql(plan)
    total = f"t{index}" if plan.total is not None else "false"
    return f"{{'rule': {number}, 'key': {key}, 'm': m{index}, 't': {total}}}"


def key_sql(plan: RulePlan) -> str:
    """A rule's group key: its group values joined (NULL written as chr(0))."""
    groups = [f"coalesce({column}, chr(0))" for column in plan.columns]
    if len(groups) == 1:
        return groups[0]
    return f"concat_ws(chr(31), {', '.join(groups)})" if groups else "''"


def _select(
    number: int,
    index: int,
    plan: RulePlan,
    clock: int | None,
    source: str,
    origin: int | None = None,
    known: bool = False,
) -> str:
    """One rule's arrivals from the predicate table `source`, as one branch of a UNION ALL (for
    large batches)."""
    key = key_sql(plan)
    match, total = f"m{index}", f"t{index}" if plan.total is not None else None
    totals = f"count(*) FILTER (WHERE {total})" if total else "0::BIGINT"
    where = f"{match} OR {total}" if total else match
    tsu = "epoch_us(ts)" if clock is None else f"greatest(epoch_us(ts), {int(clock)})"
    if known:  # a first-seen rule whose known values stay in SQL
        # Values met before, with no alert open, change nothing: left out before grouping. A
        # value first met while learning becomes known and opens nothing, so its later arrivals
        # in the batch change nothing either (unless Python holds its group).
        learned = "NULL" if origin is None else str(int(origin) + plan.rule.learn)
        return (
            f"SELECT {number}::INTEGER AS rule, key, tsu, hits, 0::BIGINT AS totals, last_id FROM ("
            f"SELECT key, {tsu} AS tsu, count(*) AS hits, max(id) AS last_id"
            f" FROM (SELECT {key} AS key, ts, id FROM {source} WHERE {match}) x"
            f" ANTI JOIN (SELECT key FROM known WHERE rule = {number}) k USING (key) GROUP BY ALL)"
            f" QUALIFY tsu = min(tsu) OVER (PARTITION BY key) OR NOT coalesce(min(tsu) OVER"
            f" (PARTITION BY key) < {learned}, false)"
            f" OR key IN (SELECT key FROM __logscope_live WHERE rule = {number})"
        )
    return (
        f"SELECT {number}::INTEGER AS rule, {key} AS key, {tsu} AS tsu,"
        f" count(*) FILTER (WHERE {match}) AS hits, {totals} AS totals,"
        f" max(id) FILTER (WHERE {match}) AS last_id FROM {source} WHERE {where} GROUP BY ALL"
    )


# new_value rules' values met before whose groups Python does not hold: their arrivals can change
# nothing (Python skips them; _HOT leaves them out), so they are dropped before grouping.
_KNOWN = "WITH known AS (SELECT rule, key FROM __logscope_seen ANTI JOIN __logscope_live USING (rule, key))"


def arrivals_sql(entries: list[str], conditions: list[str], clock: int | None, source: str) -> str:
    """One pass over the predicate table `source`: each record unnested into the rules it
    matches or counts for."""
    tsu = "epoch_us(ts)" if clock is None else f"greatest(epoch_us(ts), {int(clock)})"
    return f"""
    CREATE OR REPLACE TEMP TABLE __logscope_arrivals AS
    {_KNOWN}, x AS (
        SELECT id, ts, unnest(list_filter([{", ".join(entries)}], lambda e: e.m OR e.t)) AS e
        FROM {source} WHERE {" OR ".join(conditions)}
    ), y AS (
        SELECT id, ts, e.rule::INTEGER AS rule, e.key AS key, e.m AS m, e.t AS t FROM x
        ANTI JOIN known ON known.rule = e.rule AND known.key = e.key
    )
    SELECT rule, key, {tsu} AS tsu,
           count(*) FILTER (WHERE m) AS hits, count(*) FILTER (WHERE t) AS totals,
           max(id) FILTER (WHERE m) AS last_id
    FROM y GROUP BY rule, key, tsu
    """


def _params(number: int, rule: Rule, now: int) -> dict:
    """The bound a backlogged rule's groups must reach to be stepped through in Python."""
    window, kind = rule.window, rule.spec
    span = 2 * window if kind.two_windows else window
    bound = kind.bound(rule)
    assert bound is not None  # (a kind with `backlog` has a bound)
    return {
        "rule": number,
        "width": window,
        "horizon": now - span,
        "on_totals": bound.on_totals,
        "bound": bound.least,
    }


_NEXT = "CASE WHEN lead(bucket) OVER w = bucket + 1 THEN lead({0}) OVER w ELSE 0 END"
# Records between droppings of backlog entries older than their rule's window: the checks of
# every batch scan the backlog (300,000 nginx records, 50 rules, 8 batches: it grew to ~400,000
# rows when pruned every 20 batches; pruned each batch, the checks took ~7 ms less per batch).
PRUNE_RECORDS = 20_000
# Below this many records a batch's arrivals are built in one pass (planning a UNION of every
# rule costs more than running it); above, a UNION ALL of one GROUP BY per rule runs faster.
# Measured with 50 rules: 8k records 47 ms vs 115 ms; 50k records 350 ms vs 190 ms.
UNNEST_ROWS = 20_000

# For large batches, per backlogged rule and bucket, the counts of all its groups together, over
# the batch's arrivals and the backlog. A group's two-bucket sum cannot exceed its rule's: rules
# whose two-bucket sums all fall short of the bound (`warm` leaves them out) have no group that
# could fire, and their groups are not looked at one by one.
_WARM = f"""
CREATE OR REPLACE TEMP TABLE __logscope_warm AS
WITH a AS (SELECT rule, tsu, hits, totals FROM __logscope_arrivals
           UNION ALL SELECT rule, tsu, hits, totals FROM __logscope_backlog),
b AS (SELECT rule, tsu // width AS bucket, sum(hits) AS h, sum(totals) AS t
      FROM a JOIN __logscope_params USING (rule) GROUP BY ALL),
p AS (SELECT rule, h, h + {_NEXT.format("h")} AS h2, t + {_NEXT.format("t")} AS t2
      FROM b WINDOW w AS (PARTITION BY rule ORDER BY bucket))
SELECT rule FROM p JOIN __logscope_params USING (rule) GROUP BY rule, on_totals, bound
HAVING CASE WHEN on_totals THEN max(t2) >= bound AND sum(h) > 0 ELSE max(h2) >= bound END
"""

# Groups to step through in Python: every group of a rule without a backlog, the groups Python
# holds already, and backlogged groups of warm rules this batch touches whose bound reaches the
# rule's. Groups whose counts over all their rows fall short of it cannot reach it in two
# buckets either: they are left out (`s`) before the buckets are summed.
_HOT = f"""
CREATE OR REPLACE TEMP TABLE __logscope_hot AS
WITH touched AS (SELECT DISTINCT rule, key FROM __logscope_arrivals JOIN {{checked}} USING (rule)
                 ANTI JOIN __logscope_live USING (rule, key)),
c AS (SELECT a.* FROM __logscope_arrivals a SEMI JOIN touched USING (rule, key)
      UNION ALL SELECT b.* FROM __logscope_backlog b SEMI JOIN touched USING (rule, key)),
s AS (SELECT c.rule, key FROM c JOIN __logscope_params USING (rule) GROUP BY c.rule, key, on_totals, bound
      HAVING CASE WHEN on_totals THEN sum(totals) >= bound AND sum(hits) > 0 ELSE sum(hits) >= bound END),
b AS (SELECT c.rule, key, tsu // width AS bucket, sum(hits) AS h, sum(totals) AS t
      FROM c SEMI JOIN s USING (rule, key) JOIN __logscope_params USING (rule) GROUP BY ALL),
p AS (SELECT rule, key, h, h + {_NEXT.format("h")} AS h2, t + {_NEXT.format("t")} AS t2
      FROM b WINDOW w AS (PARTITION BY rule, key ORDER BY bucket))
SELECT rule, key FROM p JOIN __logscope_params USING (rule) GROUP BY rule, key, on_totals, bound
HAVING CASE WHEN on_totals THEN max(t2) >= bound AND sum(h) > 0 ELSE max(h2) >= bound END
UNION SELECT rule, key FROM __logscope_live
UNION (SELECT DISTINCT a.rule, a.key FROM __logscope_arrivals a
       ANTI JOIN (SELECT * FROM __logscope_seen WHERE rule IN ({{new_value}})) s USING (rule, key)
       WHERE a.rule NOT IN (SELECT rule FROM __logscope_params))
"""
_SEEN = """
INSERT INTO __logscope_seen SELECT DISTINCT a.rule, a.key FROM __logscope_arrivals a
ANTI JOIN __logscope_seen USING (rule, key) WHERE a.rule IN ({new_value})
"""
_HOT_ROWS = """
SELECT * FROM (SELECT * FROM __logscope_arrivals UNION ALL SELECT * FROM __logscope_backlog) c
SEMI JOIN __logscope_hot USING (rule, key) ORDER BY rule, key, tsu
"""
# The backlog loses the groups that went hot (Python has them now) and gains this batch's
# arrivals of backlogged rules' groups that did not.
_KEEP = (
    "DELETE FROM __logscope_backlog b USING __logscope_hot h WHERE b.rule = h.rule AND b.key = h.key",
    "INSERT INTO __logscope_backlog SELECT a.* FROM __logscope_arrivals a"
    " SEMI JOIN __logscope_params USING (rule) ANTI JOIN __logscope_hot USING (rule, key)",
)
_PRUNE = """
DELETE FROM __logscope_backlog b USING __logscope_params p WHERE b.rule = p.rule AND b.tsu <= p.horizon
"""


def _split(
    table: pa.Table, names: dict[int, str], groups: dict[int, int]
) -> dict[str, dict[tuple, list[Arrival]]]:
    """Rows ordered by rule, key and time, as {rule name: {group: [arrival, ...]}}."""
    result: dict[str, dict[tuple, list[Arrival]]] = {}
    count = table.num_rows
    if count == 0:
        return result
    table = table.combine_chunks()
    rule, key = table["rule"], table["key"]
    changed = pc.or_(
        pc.not_equal(rule.slice(1), rule.slice(0, count - 1)),
        pc.not_equal(key.slice(1), key.slice(0, count - 1)),
    )
    starts = [0, *[index + 1 for index in pc.indices_nonzero(changed).to_pylist()]]
    rows = list(zip(*(table[name].to_pylist() for name in ("tsu", "hits", "totals", "last_id")), strict=True))
    numbers, keys = rule.take(starts).to_pylist(), key.take(starts).to_pylist()
    for begin, end, number, text in zip(starts, [*starts[1:], count], numbers, keys, strict=True):
        result.setdefault(names[number], {})[key_tuple(text, groups[number])] = rows[begin:end]
    return result
