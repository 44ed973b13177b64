"""The formats a scanned file's lines are tried in, as SQL: one scan, each line read by one plan.

Our parser tries each line with the detected formats in order and keeps the first that reads it.
A syslog file, for instance, is `postfix`, then `openssh`, then `bsd_syslog`. A format's regex
plan tells, by RE2's DFA alone, the lines it surely refuses (no pattern matches, where RE2 and
Python agree: `RegexPlan.rejected`). Plan k reads the lines every format before it surely
refuses and its own does not (`ok`), or leaves them to our parser; the last plan reads all the
lines the formats before it refuse: the ones it does not read go to our parser (which tries the
next formats, or makes a `raw` record). The file is read once (`_nested`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from logscope.parsing.vectorized.json_plan import JsonPlan
from logscope.parsing.vectorized.level_tables import create_table
from logscope.parsing.vectorized.plans import RegexPlan
from logscope.parsing.vectorized.re2 import sql_literal
from logscope.parsing.vectorized.syslog_plan import SyslogPlan
from logscope.pipeline.in_place_cut import cut_block_sql, cut_plan
from logscope.pipeline.in_place_scan import block_sql, level_texts, typed_columns

MAX_CHAIN = 4  # formats planned in the order lines are tried
_OUT = "key, ts_us, level, message, host, fields, raw, ok"
_RESULTS = ("ts_us", "level", "message", "host", "fields", "ok")


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


def possible_sql(plan: RegexPlan) -> str:
    """SQL over `line`: false where the format surely does not read it (`RegexPlan.rejected`: a
    first character it cannot start with, or no pattern matching where RE2 and `re` agree),
    written so that DuckDB stops at the first test that decides (`contains`, memmem, before the
    DFA)."""
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
        # Last, and a scalar test: an `IN` list is planned as a join, run on every line before
        # the CASE; this runs only where the rest holds (0.13 CPU-s less per million syslog
        # lines, docs/benchmarks.md). One character is in the string of the set's characters
        # only as one of them (UTF-8 is self-synchronizing); '' is in every string.
        chars = sql_literal("".join(sorted(first_chars)))
        first = "substring(line, 1, 1)"
        possible = f"({possible}) AND {first} <> '' AND contains({chars}, {first})"
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
    """Fill `chain.select` and `chain.typed`: the plans' rows over `lines` (line, key), and the
    level tables the plans join (made in `con`)."""
    levels = []
    for number, plan in enumerate(chain.plans):
        levels.append(f"_inplace_levels_{tag}_{number}")
        texts = level_texts(con, head, plan) if isinstance(plan, RegexPlan) else head_texts
        create_table(con, levels[-1], plan.level_columns(texts))  # as SQL: no pyarrow
    if len(chain.plans) == 1:
        return _single(chain, lines, levels[0])
    return _nested(chain, lines, levels)


def _single(chain: Chain, lines: str, levels: str) -> Chain:
    """One plan reads every line."""
    plan = chain.plans[0]
    if not isinstance(plan, RegexPlan):
        chain.select = (
            f"SELECT {_OUT}, {sql_literal(plan.name)} AS fmt FROM ({plan.select_sql(lines, levels)}) s0"
        )
        chain.typed[plan.name] = {}
        return chain
    select, typed = _regex_select(chain, 0, lines, levels, ())
    columns = "".join(f", {column} AS c0_{column}" for column in typed.values())
    chain.select = f"SELECT {_OUT}, {sql_literal(plan.name)} AS fmt{columns} FROM ({select}) s0"
    chain.typed[plan.name] = {name: f"c0_{column}" for name, column in typed.items()}
    return chain


def _nested(chain: Chain, lines: str, levels: list[str]) -> Chain:
    """Several regex plans over one scan of the file: each line is given the number of the plan
    that reads it (`__stream`: the first whose format does not surely refuse it, else the last),
    once; then the plans run one after the other over the same rows, each seeing the line only
    on its own rows (NULL elsewhere, which its functions skip), and carrying the results of the
    plans before it. DuckDB reads the file once and tests each line against each format once
    (a UNION ALL of one filtered scan per plan read it once per plan, and tested every earlier
    format again in each)."""
    last = len(chain.plans) - 1
    whens = " ".join(
        f"WHEN {possible_sql(plan)} THEN {number}" for number, plan in enumerate(chain.plans[:last])
    )
    rows = f"SELECT line AS __line, key AS __key, CASE {whens} ELSE {last} END AS __stream FROM ({lines}) l"
    carry = ["__line", "__key", "__stream"]
    typed_columns_sql = []  # a plan's typed values, on its own rows only
    for number, plan in enumerate(list(chain.plans)):
        own = (
            f"SELECT *, CASE WHEN __stream = {number} THEN __line END AS line, __key AS key"
            f" FROM ({rows}) r{number}"
        )
        select, typed = _regex_select(chain, number, own, levels[number], tuple(carry))
        results = [f"{column} AS r{number}_{column}" for column in _RESULTS]
        results += [f"{column} AS c{number}_{column}" for column in typed.values()]
        rows = f"SELECT {', '.join(carry)}, {', '.join(results)} FROM ({select}) s{number}"
        carry += [f"r{number}_{column}" for column in _RESULTS]
        carry += [f"c{number}_{column}" for column in typed.values()]
        typed_columns_sql += [
            f"CASE WHEN __stream = {number} THEN c{number}_{column} END AS c{number}_{column}"
            for column in typed.values()
        ]
        chain.typed[plan.name] = {name: f"c{number}_{column}" for name, column in typed.items()}

    def by_stream(column: str) -> str:
        return f"CASE __stream {' '.join(f'WHEN {n} THEN r{n}_{column}' for n in range(last + 1))} END"

    names = " ".join(f"WHEN {n} THEN {sql_literal(plan.name)}" for n, plan in enumerate(chain.plans))
    picked = ["__key AS key", *(f"{by_stream(column)} AS {column}" for column in _RESULTS)]
    picked += ["__line AS raw", f"CASE __stream {names} END AS fmt", *typed_columns_sql]
    chain.select = f"SELECT {', '.join(picked)} FROM ({rows}) chained"
    return chain


def _regex_select(
    chain: Chain, number: int, lines: str, levels: str, carry: tuple[str, ...]
) -> tuple[str, dict[str, str]]:
    """Plan `number`'s rows over `lines` (with its cut where the format has one), and its typed
    columns (field -> column)."""
    plan = chain.plans[number]
    assert isinstance(plan, RegexPlan)
    typed = typed_columns(plan)
    cut = cut_plan(plan)
    chain.plans[number] = cut or plan
    block = cut_block_sql(cut, lines, carry) if cut is not None else block_sql(plan, lines, carry)
    return (cut or plan).select_sql(f"({block}) block", levels, tuple(typed.values()), carry), typed
