"""Evaluate every rule's `where` over a batch of records in one DuckDB query, in the sandbox."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import duckdb
import orjson
import pyarrow as pa

from logscope.alerting.fieldkeys import keys_read
from logscope.alerting.model import Rule
from logscope.alerting.sandbox import (
    CHECK_SECONDS,
    RuleSqlError,
    expression_columns,
    limited,
    one_line,
    open_sandbox,
)
from logscope.record import Record

TIMESTAMP = pa.timestamp("us", tz="UTC")

# The record columns a predicate can name (ts is the event time: the parsed time, else received_at).
RECORD_COLUMNS: dict[str, str] = {
    "id": "BIGINT",
    "ts": "TIMESTAMPTZ",
    "received_at": "TIMESTAMPTZ",
    "source": "VARCHAR",
    "host": "VARCHAR",
    "format": "VARCHAR",
    "level": "VARCHAR",
    "message": "VARCHAR",
    "raw": "VARCHAR",
    "fields": "JSON",
}
_RECORD_ARROW = {
    "id": pa.int64(),
    "ts": TIMESTAMP,
    "received_at": TIMESTAMP,
    "fields": pa.string(),
}


def _expressions(rule: Rule) -> list[tuple[str, str, bool]]:
    """(field, SQL, whether it must be a condition) for each expression of a counting rule."""
    expressions = [("where", rule.where, True)]
    if rule.spec.has_total:
        expressions.append(("total", rule.total, True))
    expressions += [(f"extract.{name}", text, False) for name, text in rule.extract.items()]
    expressions += [
        (f"group_by.{name}", quote(name), False) for name in rule.group_names if name not in rule.extract
    ]
    return expressions


def _not_conditions(expressions: list[tuple[str, str, bool]], kinds: list[str]) -> list[tuple[str, str]]:
    return [
        (key, f"must be a condition (true or false), but its type is {kind}")
        for (key, _, predicate), kind in zip(expressions, kinds, strict=True)
        if predicate and kind.upper() != "BOOLEAN"
    ]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def json_path(name: str) -> str:
    """A SQL string literal holding the JSON path of a top-level key."""
    key = name.replace("\\", "\\\\").replace('"', '\\"')
    return "'" + f'$."{key}"'.replace("'", "''") + "'"


@dataclass
class RulePlan:
    """The SQL columns one rule needs from each batch, by output column name."""

    rule: Rule
    where: str
    total: str | None = None
    groups: list[str] = field(default_factory=list)  # expressions
    columns: list[str] = field(default_factory=list)  # the predicate table's columns holding them


@dataclass
class Compiled:
    """The batch query for a set of rules and the columns it needs built from records."""

    plans: list[RulePlan]
    record_columns: list[str]
    field_columns: dict[str, str]  # field name -> DuckDB type
    sql: str
    # The keys of `fields` the rules read (field columns and constant lookups such as
    # `fields->>'exception'`), None if they may read any: records read back for them need only these.
    field_keys: frozenset[str] | None = None


@dataclass
class BatchPredicates:
    """A batch's predicate table, a table `name` in the sandbox (so that any cursor reads it
    where it is, column by column): what it was computed for and what it holds."""

    name: str
    compiled: Compiled
    rows: int
    first: int  # the earliest and latest event time in the batch (µs)
    last: int
    matched: list[bool]  # per plan of `compiled`: whether any record matches or counts for it

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP TABLE IF EXISTS {self.name}")


_TABLE_NUMBERS = itertools.count()


class PredicateEvaluator:
    """Builds the batch table, runs the one query, and reports which rule failed if it fails."""

    def __init__(self, rules: Iterable[Rule], format_types: dict[str, str] | None = None) -> None:
        self.con = open_sandbox()
        self.format_types = format_types or {}
        self.rules = [rule for rule in rules if rule.spec.counting]
        self.compiled = self.compile(self.rules)

    def compile(self, rules: list[Rule]) -> Compiled:
        """Work out columns and the query. Raises RuleSqlError naming the rule and field."""
        used: set[str] = {"id", "ts"}
        field_types: dict[str, str] = {}
        plans = []
        expressions: list[str] = []
        for rule in rules:
            names: set[str] = set()
            expressions += [rule.where, rule.total, *rule.extract.values()]
            for key, expression in (("where", rule.where), ("total", rule.total)):
                try:
                    names |= expression_columns(self.con, expression)
                except RuleSqlError as exc:
                    raise RuleSqlError(f"rule {rule.name!r}: field {key!r}: {exc}") from None
            for name, expression in rule.extract.items():
                try:
                    names |= expression_columns(self.con, expression)
                except RuleSqlError as exc:
                    raise RuleSqlError(f"rule {rule.name!r}: field 'extract.{name}': {exc}") from None
            names |= {name for name in rule.group_names if name not in rule.extract}
            for name in names:
                if name in RECORD_COLUMNS:
                    used.add(name)
                elif name not in field_types:
                    field_types[name] = self._type_of(rule, name)
            groups = [
                f"({rule.extract[name]})" if name in rule.extract else quote(name)
                for name in rule.group_names
            ]
            plans.append(
                RulePlan(
                    rule, where=rule.where, total=rule.total if rule.spec.has_total else None, groups=groups
                )
            )
        if field_types:
            used.add("fields")  # field columns are read from the record's fields as JSON
        record_columns = [name for name in RECORD_COLUMNS if name in used]
        keys = keys_read(self.con, expressions) if "fields" in used else None
        if keys is not None:
            keys |= set(field_types)
        sql = self._query(plans, record_columns, field_types)
        return Compiled(plans, record_columns, field_types, sql, keys)

    def _type_of(self, rule: Rule, name: str) -> str:
        return rule.field_types.get(name) or self.format_types.get(name) or "VARCHAR"

    @staticmethod
    def _columns_cte(record_columns: list[str], field_types: dict[str, str]) -> str:
        """`WITH b AS (...)`: record columns, and field columns cast to their types."""
        inner = [quote(name) for name in record_columns]
        if not field_types:
            return f"WITH b AS (SELECT {', '.join(inner)} FROM batch)"
        # One JSON parse per record for all fields: extract a list, then cast each element.
        paths = ", ".join(json_path(name) for name in field_types)
        inner += [
            f"TRY_CAST(__fields[{number}] AS {kind}) AS {quote(name)}"
            for number, (name, kind) in enumerate(field_types.items(), start=1)
        ]
        return (
            f"WITH j AS (SELECT *, json_extract_string(fields, [{paths}]) AS __fields FROM batch),"
            f" b AS (SELECT {', '.join(inner)} FROM j)"
        )

    def _query(self, plans: list[RulePlan], record_columns: list[str], field_types: dict[str, str]) -> str:
        # Conditions first; group values that are extractions (often regexes) only for the rows
        # that count. A group that is a column is one column for every rule grouping by it.
        conditions, outer = [], ["id", "ts"]
        shared: dict[str, str] = {}
        for index, plan in enumerate(plans):
            plan.columns = []
            conditions.append(f"coalesce(({plan.where}), false) AS m{index}")
            outer.append(f"m{index}")
            counted = f"m{index}"
            if plan.total is not None:
                conditions.append(f"coalesce(({plan.total}), false) AS t{index}")
                outer.append(f"t{index}")
                counted = f"m{index} OR t{index}"
            for number, (name, expression) in enumerate(zip(plan.rule.group_names, plan.groups, strict=True)):
                if name not in plan.rule.extract:
                    if expression not in shared:
                        shared[expression] = f"k{len(shared)}"
                        outer.append(f"CAST({expression} AS VARCHAR) AS {shared[expression]}")
                    plan.columns.append(shared[expression])
                    continue
                outer.append(
                    f"CASE WHEN {counted} THEN CAST({expression} AS VARCHAR) END AS g{index}_{number}"
                )
                plan.columns.append(f"g{index}_{number}")
        columns = self._columns_cte(record_columns, field_types)
        return f"{columns}, c AS (SELECT *, {', '.join(conditions)} FROM b) SELECT {', '.join(outer)} FROM c"

    def batch_table(self, records: Sequence[Record], compiled: Compiled | None = None) -> pa.Table:
        """The columns the rules need, built from the records."""
        compiled = compiled or self.compiled
        columns: dict[str, pa.Array] = {}
        for name in compiled.record_columns:
            if name == "ts":
                values = [r.ts if r.ts is not None else r.received_at for r in records]
            elif name == "fields":
                values = [orjson.dumps(r.fields, default=str).decode() if r.fields else None for r in records]
            else:
                values = [getattr(r, name) for r in records]
            columns[name] = pa.array(values, _RECORD_ARROW.get(name, pa.string()))
        return pa.table(columns)

    def bind_errors(self, rule: Rule) -> list[tuple[str, str]]:
        """(field, message) for each of the rule's expressions that does not bind or is not boolean."""
        single = self.compile([rule])
        expressions = _expressions(rule)
        kinds = self._kinds(single, [(text, predicate) for _, text, predicate in expressions])
        if kinds is not None:  # all of the rule's expressions in one query
            return _not_conditions(expressions, kinds)
        problems = []
        for key, expression, predicate in expressions:  # one at a time only to say which fails
            try:
                kinds = self._kinds(single, [(expression, predicate)], raises=True)
            except RuleSqlError as exc:
                problems.append((key, str(exc)))
                continue
            except duckdb.Error as exc:
                problems.append((key, one_line(exc)))
                continue
            problems += _not_conditions([(key, expression, predicate)], kinds or [])
        return problems

    def bind_errors_of(self, rules: list[Rule]) -> list[list[tuple[str, str]]]:
        """`bind_errors` of each rule. Rules that bind together are checked in one query (rules
        that declare field types are checked alone: their types may differ from each other's)."""
        together = [rule for rule in rules if not rule.field_types]
        kinds = None
        if len(together) > 1:
            expressions = [_expressions(rule) for rule in together]
            every = [(text, predicate) for listed in expressions for _, text, predicate in listed]
            kinds = self._kinds(self.compile(together), every)
        if kinds is None:
            return [self.bind_errors(rule) for rule in rules]
        problems: dict[int, list[tuple[str, str]]] = {}
        for rule, listed in zip(together, expressions, strict=True):
            problems[id(rule)] = _not_conditions(listed, kinds[: len(listed)])
            kinds = kinds[len(listed) :]
        return [problems[id(rule)] if id(rule) in problems else self.bind_errors(rule) for rule in rules]

    def _kinds(
        self, compiled: Compiled, expressions: list[tuple[str, bool]], raises: bool = False
    ) -> list[str] | None:
        """The types of `expressions` over the compiled columns, bound in one query (None if it
        fails, unless `raises`)."""
        columns = self._columns_cte(compiled.record_columns, compiled.field_columns)
        every = ", ".join(f"({expression}) AS e{n}" for n, (expression, _) in enumerate(expressions))
        self.con.register("batch", self.batch_table([], compiled))
        try:
            with limited(self.con, CHECK_SECONDS):
                result = self.con.execute(f"{columns} SELECT {every} FROM b")
                kinds = [str(column[1]) for column in result.description]
                result.fetchall()
            return kinds
        except (duckdb.Error, RuleSqlError):
            if raises:
                raise
            return None
        finally:
            self.con.unregister("batch")

    def evaluate(
        self,
        records: Sequence[Record],
        table: pa.Table | None = None,
        con: duckdb.DuckDBPyConnection | None = None,
        compiled: Compiled | None = None,
    ) -> BatchPredicates:
        """The batch's predicate table, kept in the sandbox (see BatchPredicates): one row per
        record with id, ts, m<i> (rule i matched), t<i> (ratio total), g<i>_<n> (groups).

        `table` is the store writer's Arrow table of the same records, when there is one; `con`
        a cursor of the sandbox to run on (to evaluate one batch while another thread uses `con`);
        `compiled` the rules to evaluate (by default the current ones).
        """
        compiled = compiled or self.compiled
        if table is not None and table.num_rows == len(records):
            batch = table.select(compiled.record_columns)
        else:
            batch = self.batch_table(records, compiled)
        con = con or self.con
        name = f"__logscope_r{next(_TABLE_NUMBERS)}"
        con.register("batch", batch)
        try:
            with limited(con):
                con.execute(f"CREATE TABLE {name} AS {compiled.sql}")
        finally:
            con.unregister("batch")
        try:
            return self._summary(con, name, compiled)
        except BaseException:
            con.execute(f"DROP TABLE IF EXISTS {name}")
            raise

    @staticmethod
    def _summary(con: duckdb.DuckDBPyConnection, name: str, compiled: Compiled) -> BatchPredicates:
        flags = [
            f"coalesce(bool_or(m{index}{f' OR t{index}' if plan.total is not None else ''}), false)"
            for index, plan in enumerate(compiled.plans)
        ]
        row = con.execute(
            f"SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)){''.join(', ' + f for f in flags)}"
            f" FROM {name}"
        ).fetchall()[0]
        return BatchPredicates(name, compiled, row[0], row[1], row[2], list(row[3:]))

    def _run(self, sql: str, table: pa.Table, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        con = con or self.con
        con.register("batch", table)
        try:
            with limited(con):
                return con.sql(sql).to_arrow_table()
        finally:
            con.unregister("batch")

    def failing_rules(
        self, records: Sequence[Record], table: pa.Table | None = None
    ) -> list[tuple[Rule, str]]:
        """Each rule whose query fails on these records alone, with the error (`table`: the
        records' columns, as for `evaluate`)."""
        failed = []
        for plan in self.compiled.plans:
            single = self.compile([plan.rule])
            usable = table is not None and table.num_rows == len(records)
            batch = table.select(single.record_columns) if usable else self.batch_table(records, single)
            trial = open_sandbox()  # of its own: what a rule stopped at its memory limit took goes
            try:
                self._run(single.sql, batch, trial)
            except RuleSqlError as exc:
                failed.append((plan.rule, str(exc)))
            except duckdb.Error as exc:
                failed.append((plan.rule, one_line(exc)))
            finally:
                trial.close()
        return failed

    def renew(self) -> duckdb.DuckDBPyConnection:
        """Go on in a new sandbox; the old one, returned, is given up."""
        old, self.con = self.con, open_sandbox()
        return old

    def without(self, rules: list[Rule]) -> None:
        """Drop rules (they failed) and recompile for the rest."""
        names = {rule.name for rule in rules}
        self.rules = [rule for rule in self.rules if rule.name not in names]
        self.compiled = self.compile(self.rules)
