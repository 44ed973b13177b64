"""The formats a scanned file's lines are tried in, as SQL: one stream of lines per format.

Our parser tries each line with the detected formats in order and keeps the first that reads it.
A syslog file, for instance, is `postfix`, then `openssh`, then `bsd_syslog`. A format's regex
plan tells, by RE2's DFA alone, the lines it surely refuses (no pattern matches, where RE2 and
Python agree: `RegexPlan.rejected`). Stream k holds the lines every format before it surely
refuses and its own does not; its plan reads them (`ok`) or leaves them to our parser. The last
stream holds all the lines the formats before it refuse: the ones its plan does not read go to
our parser (which tries the next formats, or makes a `raw` record).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from logscope.parsing.vectorized.json_plan import JsonPlan
from logscope.parsing.vectorized.plans import RegexPlan
from logscope.parsing.vectorized.re2 import sql_literal
from logscope.parsing.vectorized.syslog_plan import SyslogPlan
from logscope.pipeline.in_place_cut import cut_block_sql, cut_plan
from logscope.pipeline.in_place_scan import block_sql, level_texts, typed_columns

MAX_CHAIN = 4  # formats planned in the order lines are tried
_OUT = "key, ts_us, level, message, host, fields, raw, ok"


@dataclass
class Chain:
    """The plans a file's lines are tried with, and the SQL of their rows."""

    plans: list[RegexPlan | JsonPlan | SyslogPlan]
    select: str = ""  # rows: key, ts_us, level, message, host, fields, raw, ok, fmt, typed...
    typed: dict[str, dict[str, str]] = field(default_factory=dict)  # format -> field -> column

    @property
    def names(self) -> str:
        return ", ".join(plan.name for plan in self.plans)


def chain_plans(order: list, first: RegexPlan | JsonPlan | SyslogPlan, plan_of, stateful) -> Chain:
    """`first` (the plan of the format tried first), then the regex plans of the formats tried
    after it, up to the first without one (or a stateful one), at most MAX_CHAIN."""
    plans: list[RegexPlan | JsonPlan | SyslogPlan] = [first]
    if not isinstance(first, RegexPlan):
        return Chain(plans)
    for candidate in order[1:MAX_CHAIN]:
        if stateful(candidate):
            break
        plan = plan_of(candidate)
        if isinstance(plan, str):
            break
        plans.append(plan)
    return Chain(plans)


def rejected_sql(plan: RegexPlan) -> str:
    """SQL over `line`: true where the format surely does not read it (`RegexPlan.rejected`)."""
    parts = []
    for written, pattern, guard in zip(
        plan.parser.definition.patterns, plan.patterns, plan.guards, strict=True
    ):
        none = f"NOT regexp_matches(line, {sql_literal(pattern)})"
        if guard is not None:
            none += f" AND NOT regexp_matches(line, {sql_literal(guard)})"
        literal = required_literal(written)
        if literal is not None:  # without it no match: `contains` (memmem) before the DFA
            none = f"NOT contains(line, {sql_literal(literal)}) OR ({none})"
        parts.append(f"({none})")
    refused = " AND ".join(parts)
    first_chars = plan.parser.first_chars
    if first_chars is not None:
        chars = ", ".join(sql_literal(char) for char in sorted(first_chars))
        refused = f"(substring(line, 1, 1) NOT IN ({chars}) OR {refused})"
    return refused


def possible_sql(plan: RegexPlan) -> str:
    """`NOT rejected_sql(plan)`, written so that a filter stops at the first test that decides
    (DuckDB does not carry a NOT through an OR: the cheap `contains` would run after the DFA)."""
    parts = []
    for written, pattern, guard in zip(
        plan.parser.definition.patterns, plan.patterns, plan.guards, strict=True
    ):
        some = f"regexp_matches(line, {sql_literal(pattern)})"
        if guard is not None:
            some = f"({some} OR regexp_matches(line, {sql_literal(guard)}))"
        literal = required_literal(written)
        if literal is not None:
            some = f"contains(line, {sql_literal(literal)}) AND {some}"
        parts.append(f"({some})")
    possible = " OR ".join(parts)
    first_chars = plan.parser.first_chars
    if first_chars is not None:
        chars = ", ".join(sql_literal(char) for char in sorted(first_chars))
        possible = f"substring(line, 1, 1) IN ({chars}) AND ({possible})"
    return possible


def required_literal(pattern: str, shortest: int = 4) -> str | None:
    """The longest text every match of a Python `pattern` holds (a run of literal characters
    outside any repeat, alternative or case folding), if it has `shortest` characters or more."""
    from re import _parser  # type: ignore[attr-defined]

    runs: list[str] = []
    current: list[str] = []

    def cut() -> None:
        runs.append("".join(current))
        current.clear()

    def walk(sequence) -> None:
        for op, av in sequence:
            if op is _parser.LITERAL:
                current.append(chr(av))
            elif op is _parser.SUBPATTERN and not (av[1] & re.IGNORECASE):
                walk(av[-1])
            elif op is not _parser.AT:
                cut()

    parsed = _parser.parse(pattern)
    if parsed.state.flags & re.IGNORECASE:
        return None
    walk(parsed)
    cut()
    longest = max(runs, key=len)
    return longest if len(longest) >= shortest else None


def build_chain(
    con: duckdb.DuckDBPyConnection, chain: Chain, lines: str, head: list[str], head_texts: list[str], tag: int
) -> Chain:
    """Fill `chain.select` and `chain.typed`: a stream per plan over `lines` (line, key), and
    the level tables the plans join (made in `con`)."""
    streams: list[tuple[str, str, dict[str, str]]] = []  # (select, format, typed columns)
    refused: list[str] = []
    for number, plan in enumerate(chain.plans):
        levels = f"_inplace_levels_{tag}_{number}"
        texts = level_texts(con, head, plan) if isinstance(plan, RegexPlan) else head_texts
        con.register("_inplace_arrow", plan.level_table(texts))
        con.execute(f"CREATE TABLE {levels} AS SELECT * FROM _inplace_arrow")
        con.unregister("_inplace_arrow")
        last = number == len(chain.plans) - 1
        conditions = refused + ([] if last else [possible_sql(plan)])
        own = f"SELECT * FROM ({lines}) l WHERE {' AND '.join(conditions)}" if conditions else lines
        if isinstance(plan, RegexPlan):
            typed = typed_columns(plan)
            cut = cut_plan(plan)
            chain.plans[number] = cut or plan
            block = cut_block_sql(cut, own) if cut is not None else block_sql(plan, own)
            select = (cut or plan).select_sql(f"({block}) block", levels, tuple(typed.values()))
            streams.append((select, plan.name, typed))
            refused.append(rejected_sql(plan))
        else:
            streams.append((plan.select_sql(own, levels), plan.name, {}))
    columns = [
        f"c{number}_{column}" for number, (_, _, typed) in enumerate(streams) for column in typed.values()
    ]
    parts = []
    for number, (select, name, typed) in enumerate(streams):
        mine = {f"c{number}_{column}": column for column in typed.values()}
        values = "".join(
            f", {mine[column]} AS {column}" if column in mine else f", NULL AS {column}" for column in columns
        )
        parts.append(f"SELECT {_OUT}, {sql_literal(name)} AS fmt{values} FROM ({select}) s{number}")
        chain.typed[name] = {field: f"c{number}_{column}" for field, column in typed.items()}
    chain.select = " UNION ALL ".join(parts)
    return chain
