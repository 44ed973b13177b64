"""new_value rules' history: the values they matched in records stored before this run.

A value an earlier run stored is not new. When `ingest` or `tail` starts on a database that
already holds records, each new_value rule starts out knowing the values its `where` (and
`extract`) give on the stored records of its last `history` of event time (up to the latest
stored one), first seen first, at most `max_values` of them (ElastAlert's new_term looks back
`terms_window_size` the same way). Records of the current run (ids from `below` on) are what
is being evaluated: they never seed.

One query for all rules: the store streams the columns the rules use, batch by batch, into the
rules' sandbox (no file access, like all rule SQL), where their predicates and groups are
computed as for a live batch and reduced to each value's first time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from logscope.alerting.counting.arrivals import key_sql
from logscope.alerting.model import Rule
from logscope.alerting.predicates import Compiled, PredicateEvaluator
from logscope.alerting.sandbox import RuleSqlError, limited, one_line
from logscope.store.bulk import stored_column_batches

HISTORY_ROWS = 100_000  # records per batch streamed from the store
HISTORY_SECONDS = 120.0  # a history read taking longer is given up (the rules start from nothing)


@dataclass
class Seed:
    """A new_value rule's stored values (as arrivals.key_text writes them) and where its
    history starts (µs): `learn` counts from there, as if the engine had run since then."""

    keys: list[str]
    since: int


class StoredValues:
    """Reads, once, the values each new_value rule meets in the records stored before id `below`
    (shared by the engines of one run: a one-shot import may replace its engine)."""

    def __init__(
        self,
        store: duckdb.DuckDBPyConnection,
        below: int,
        rules: list[Rule],
        format_types: dict[str, str] | None = None,
    ) -> None:
        self.rules = [rule for rule in rules if rule.spec.first_seen and rule.history > 0]
        self.store = store.cursor() if self.rules else store  # (read from the engine's thread)
        self.below = below
        self.format_types = format_types
        self._lock = threading.Lock()
        self._result: tuple[dict[str, Seed], list[str]] | None = None

    def prefetch(self) -> None:
        """Start reading now, in a thread of the caller's CPU priority (the engine of a one-shot
        import runs at a lower one, and would read against the timeout at it); `seeds` waits."""
        if self.rules and self.below > 1:
            threading.Thread(target=self.seeds, name="rules-history", daemon=True).start()

    def seeds(self) -> tuple[dict[str, Seed], list[str]]:
        """Rule name -> its seed, and the errors met (a rule whose history could not be read
        starts from nothing)."""
        with self._lock:
            if self._result is None:
                self._result = self._read()
            return self._result

    def _read(self) -> tuple[dict[str, Seed], list[str]]:
        if not self.rules or self.below <= 1:
            return {}, []
        latest = self.store.execute(
            f"SELECT epoch_us(max(ts)), epoch_us(min(ts)) FROM logs WHERE id < {int(self.below)}"
        ).fetchall()[0]
        if latest[0] is None:
            return {}, []
        seeds, errors = {}, []
        try:
            seeds = self._query(self.rules, *latest)
        except (duckdb.Error, RuleSqlError):  # which rule failed: each alone, to keep the others'
            for rule in self.rules:
                try:
                    seeds |= self._query([rule], *latest)
                except (duckdb.Error, RuleSqlError) as exc:
                    errors.append(
                        f"{rule.file}: rule {rule.name!r}: reading the values stored before this run"
                        f" failed, it starts from none: {one_line(exc)}"
                    )
        return seeds, errors

    def _query(self, rules: list[Rule], latest: int, earliest: int) -> dict[str, Seed]:
        """One pass over the stored history of `rules`: each rule's values, first seen first."""
        evaluator = PredicateEvaluator(rules, self.format_types)
        since = {rule.name: max(earliest, latest - rule.history + 1) for rule in rules}
        start = min(since.values())
        where = f"id < {int(self.below)} AND ts >= make_timestamptz({int(start)}::BIGINT)"
        reader = stored_column_batches(self.store, evaluator.compiled.record_columns, where, HISTORY_ROWS)
        con = evaluator.con
        con.register("batch", reader)
        try:
            with limited(con, HISTORY_SECONDS):
                table = con.sql(_seed_sql(evaluator.compiled, since)).to_arrow_table()
        finally:
            con.unregister("batch")
            con.close()
            reader.close()  # (unread when the query failed: the store's cursor is free again)
        return _by_rule(table, rules, since)


def _seed_sql(compiled: Compiled, since: dict[str, int]) -> str:
    """Per rule (its number in `compiled`), each value it matched since its history starts,
    with its first time; at most `max_values` per rule, first seen first."""
    entries, conditions, limits = [], [], []
    for index, plan in enumerate(compiled.plans):
        rule = plan.rule
        empty = " AND ".join(f"coalesce({column}, '') = ''" for column in plan.columns) or "false"
        condition = f"(m{index} AND ts >= make_timestamptz({since[rule.name]}::BIGINT) AND NOT ({empty}))"
        entries.append(f"{{'rule': {index}, 'key': {key_sql(plan)}, 'm': {condition}}}")
        conditions.append(condition)
        limits.append(f"WHEN {index} THEN {int(rule.max_values)}")
    return f"""
    SELECT e.rule AS rule, e.key AS key, min(tsu) AS first FROM (
        SELECT epoch_us(ts) AS tsu, unnest(list_filter([{", ".join(entries)}], lambda e: e.m)) AS e
        FROM ({compiled.sql}) p WHERE {" OR ".join(conditions)}
    ) GROUP BY rule, key
    QUALIFY row_number() OVER (PARTITION BY rule ORDER BY first, key) <= CASE rule {" ".join(limits)} END
    ORDER BY rule, first, key
    """


def _by_rule(table: pa.Table, rules: list[Rule], since: dict[str, int]) -> dict[str, Seed]:
    seeds = {rule.name: Seed([], since[rule.name]) for rule in rules}
    for number, key in zip(table["rule"].to_pylist(), table["key"].to_pylist(), strict=True):
        seeds[rules[number].name].keys.append(key)
    return seeds
