"""Vectorized parsing plans for the bulk-import fast path (docs/benchmarks.md, "Fast path").

A plan turns a block of lines (an Arrow string array) into the parts `RegexFormat.parse` would
give, without a Python loop over the lines: RE2 (through `pyarrow.compute.extract_regex`) runs the
format's pattern, DuckDB SQL computes times, levels, typed fields and the `fields` JSON.

A plan never guesses: for every line it also computes `ok`, true only where the vectorized result
is provably the one the streaming parser gives. Lines that are not `ok` go back to the streaming
`SourceParser`. What makes a line not `ok`: no pattern matched, a character where Python `re` and
RE2 differ (Unicode digits, letters or spaces when the pattern uses `\\d`, `\\w`, `\\s`, `\\b` or
ignores case), a time outside the strict shapes computed here, a group that may match empty text
and did (RE2 cannot tell it from a group that did not take part), a typed value `int()`/`float()`
could read differently from SQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from logscope.parsing.inferlevel import INFERRED_FIELD, infer_level_sql
from logscope.parsing.regexformat import RegexFormat
from logscope.parsing.vectorized.level_tables import LevelColumns, arrow_table
from logscope.parsing.vectorized.re2 import (
    always_participating,
    group_min_widths,
    guard_regex,
    re2_pattern,
    sql_literal,
    sql_name,
    wrap_nullable,
)
from logscope.parsing.vectorized.times import TimePlan, fixed_offset, time_plan, year_map_sql

if TYPE_CHECKING:  # imported where a block is prepared (a query over files in place needs none)
    import pyarrow as pa

_INT = r"^[+-]?[0-9]+$"
_FLOAT = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_BOOL_TRUE = ("true", "yes", "on", "1", "t", "y")
_BOOL_FALSE = ("false", "no", "off", "0", "f", "n")


@dataclass
class RegexPlan:
    """The fast path for one `RegexFormat` (see the module docstring)."""

    parser: RegexFormat
    patterns: list[str]
    guards: list[str | None]
    time_plans: list[TimePlan]
    zone_offset: int | None
    year_map: str
    nullable_groups: set[str] = field(default_factory=set)
    # Per pattern, the nullable groups with a `__w_<name>` wrapper (see `wrap_nullable`).
    wrapped: list[set[str]] = field(default_factory=list)
    # Per pattern, the nullable groups that take part in every match (no wrapper needed).
    always: list[set[str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.parser.name

    def prepare_lines(self, lines: list[str]) -> pa.Table:
        import pyarrow as pa

        return self.prepare(pa.array(lines, pa.string()))

    def prepare(self, lines: pa.Array) -> pa.Table:
        """The Arrow columns the SQL reads: per pattern its group struct, line checks, time parts."""
        import pyarrow as pa
        import pyarrow.compute as pc

        columns: dict[str, pa.Array] = {"line": lines}
        first_chars = self.parser.first_chars
        if first_chars is not None:
            first = pc.utf8_slice_codeunits(lines, 0, 1)
            columns["first_ok"] = pc.is_in(first, value_set=pa.array(sorted(first_chars), pa.string()))
        structs = []
        for index, (pattern, guard) in enumerate(zip(self.patterns, self.guards, strict=True)):
            structs.append(pc.extract_regex(lines, pattern))
            columns[f"p{index}"] = structs[-1]
            if guard is not None:
                columns[f"g{index}"] = pc.match_substring_regex(lines, guard)
        time_field = self.parser.definition.time_field
        if self.time_plans and time_field is not None:
            time_text = self._first_group(structs, time_field)
            for index, plan in enumerate(self.time_plans):
                columns[f"t{index}"] = pc.extract_regex(time_text, plan.regex)
        return pa.table(columns)

    def rejected(self, table: pa.Table) -> pa.Array:
        """Lines `prepare` shows the format surely does not accept (so the next format is tried):
        a first character it cannot start with, or no pattern matching where RE2 and `re` agree."""
        import pyarrow.compute as pc

        refused = None
        for index in range(len(self.patterns)):
            none = pc.is_null(table.column(f"p{index}"))
            if f"g{index}" in table.column_names:
                none = pc.and_(none, pc.invert(table.column(f"g{index}")))
            refused = none if refused is None else pc.and_(refused, none)
        assert refused is not None
        if "first_ok" in table.column_names:
            refused = pc.or_(refused, pc.invert(pc.fill_null(table.column("first_ok"), False)))
        return pc.fill_null(refused, False)

    def _first_group(self, structs: list[pa.Array], name: str) -> pa.Array:
        """Group `name` of the first pattern that matched each line (null where none did)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        result = pa.nulls(len(structs[0]), pa.string())
        for struct in reversed(structs):
            if name in {struct.type.field(i).name for i in range(struct.type.num_fields)}:
                result = pc.if_else(pc.is_valid(struct), pc.struct_field(struct, name), result)
        return result

    def group_sql(self, name: str) -> str:
        """The text of group `name` from the first pattern that matched (NULL if it has none)."""
        if len(self.patterns) == 1:
            # Rows where the pattern did not match are not `ok`: what they read does not matter.
            has = name in re.compile(self.parser.definition.patterns[0]).groupindex
            return f"p0.{sql_name(name)}" if has else "NULL"
        cases = [
            f"WHEN p{index} IS NOT NULL THEN p{index}.{sql_name(name)}"
            for index, pattern in enumerate(self.parser.definition.patterns)
            if name in re.compile(pattern).groupindex
        ]
        return f"CASE {' '.join(cases)} END" if cases else "NULL"

    def participating_sql(self, name: str) -> str | None:
        """The text of group `name`, NULL where it took no part; None if that cannot be told."""
        cases = []
        for index, pattern in enumerate(self.parser.definition.patterns):
            if name not in re.compile(pattern).groupindex:
                continue
            if name in self.always[index]:
                value = f"p{index}.{sql_name(name)}"
            elif name in self.wrapped[index]:
                wrapper = sql_name(f"__w_{name}")
                value = f"CASE WHEN p{index}.{wrapper} <> '' THEN p{index}.{sql_name(name)} END"
            else:
                return None
            cases.append(f"WHEN p{index} IS NOT NULL THEN {value}")
        return f"CASE {' '.join(cases)} END" if cases else "NULL"

    def matched_sql(self) -> str:
        """Whether a pattern matched (the first one that did decides, as in `re.match` order)."""
        checks = []
        for index, guard in enumerate(self.guards):
            ok = f"p{index} IS NOT NULL"
            if guard is not None:
                ok += f" AND NOT g{index}"
            checks.append(f"WHEN p{index} IS NOT NULL THEN {ok}")
        first = "first_ok AND " if self.parser.first_chars is not None else ""
        return f"{first}coalesce(CASE {' '.join(checks)} END, false)"

    def early_times(self) -> tuple[str, ...]:
        """Columns of the block holding a line's time in µs where it is known before the time
        plans run (NULL elsewhere); none here (in_place_cut.py has one)."""
        return ()

    def carried(self) -> tuple[str, ...]:
        """Columns of the block the later stages read besides the groups (in_place_cut.py)."""
        return self.early_times()

    def typed_sql(self, name: str, text: str, kind: str) -> str:
        """Field `name`'s typed value from its text (SQL `text`)."""
        return _typed(text, kind)

    def proved_sql(self) -> str | None:
        """SQL: lines whose every check holds without being computed (only `matched` and the
        level's exactness are), or None. Where it is set, the checks read `check_group_sql`'s
        texts, so that a query computes a group's value only when it reads it (in_place_cut.py)."""
        return None

    def check_time_index(self) -> int | None:
        """The index of the time struct (`t<index>`) the checks read with the first time plan,
        where it is not the value's (see `proved_sql`), or None."""
        return None

    def check_group_sql(self, name: str) -> str:
        """The text of group `name` the checks read (on lines `proved_sql` does not hold on)."""
        return self.group_sql(name)

    def check_participating_sql(self, name: str) -> str | None:
        """`participating_sql` for the checks (see `check_group_sql`)."""
        return self.participating_sql(name)

    def level_text_sql(self) -> str:
        """The level group's text ('' when absent): the key of the level table."""
        field_name = self.parser.definition.level_field
        return f"coalesce({self.group_sql(field_name)}, '')" if field_name else "''"

    def level_table(self, texts: list[str]) -> pa.Table:
        return arrow_table(self.level_columns(texts))

    def level_columns(self, texts: list[str]) -> LevelColumns:
        """Level text -> normalized level, computed by the parser itself once per distinct text.

        `exact` is false where '' may mean an empty match or no match, and the two differ."""
        level_of = self.parser._level
        field_name = self.parser.definition.level_field
        nullable = field_name in self.nullable_groups
        levels, exact = [], []
        for text in texts:
            if text == "":
                levels.append(level_of(None))
                exact.append(not nullable or level_of("") == level_of(None))
            else:
                levels.append(level_of(text))
                exact.append(True)
        return {"text": list(texts), "level": levels, "exact": exact}

    def select_sql(
        self, block: str, levels: str, extra: tuple[str, ...] = (), carry: tuple[str, ...] = ()
    ) -> str:
        """Rows (key, ts_us, level, message, host, fields, raw, ok, *extra, *carry) for every line
        of `block`; `extra` names more columns of the last stage (the typed values `v<i>`),
        `carry` columns of `block` passed through unchanged.

        Three nested SELECTs, so that each group text, number and typed value is computed once:
        texts (s1), numbers and typed values (s2), times (s3), then the row."""
        definition = self.parser.definition
        texts = {
            "key": "key",
            "line": "line",
            "matched": self.matched_sql(),
            "level_text": self.level_text_sql(),
            "message": f"coalesce({self.group_sql(definition.message_field)}, '')"
            if definition.message_field
            else "line",
            "host": f"nullif({self.group_sql(definition.host_field)}, '')"
            if definition.host_field
            else "NULL",
            "time_text": self.group_sql(definition.time_field) if definition.time_field else "NULL",
            **{name: name for name in self.carried()},
            **{name: name for name in carry},
        }
        if self.proved_sql() is not None:
            time_field = definition.time_field
            texts["check_time_text"] = self.check_group_sql(time_field) if time_field else "NULL"
        numbers: dict[str, str] = {}
        times: list[str] = []
        for index, plan in enumerate(self.time_plans):
            staged = plan.columns(index, self.zone_offset, self.year_map)
            assert staged is not None
            texts.update(staged[0])
            numbers.update(staged[1])
            times.append(staged[2])
        # A level inferred from the message where the line has none (level.infer).
        marker = f"'{json.dumps(INFERRED_FIELD)}:true'"
        inferred = [f"CASE WHEN lv.level IS NULL AND il IS NOT NULL THEN {marker} END"]
        field_texts, typed, checks, fields = _field_stages(self, inferred if definition.level_infer else [])
        texts.update(field_texts)
        numbers.update(typed)
        time_values = {f"tv{index}": value for index, value in enumerate(times)}
        checked_index = self.check_time_index()
        if checked_index is not None:
            staged = self.time_plans[0].columns(checked_index, self.zone_offset, self.year_map)
            assert staged is not None
            texts.update(staged[0])
            numbers.update(staged[1])
            time_values["ktv"] = staged[2]
        if definition.level_infer:
            time_values["il"] = infer_level_sql("message")
        s1 = _select(texts, f"{block}")
        s2 = _select({"*": "*", **numbers}, f"({s1}) s1")
        s3 = _select({"*": "*", **time_values}, f"({s2}) s2")
        planned = [name for name in time_values if name not in ("il", "ktv")]
        time_names = [*self.early_times(), *planned]
        time_value = f"coalesce({', '.join(time_names)})" if time_names else "NULL"
        # '' from a group that may match empty: a bad time (rejects the line) or no time at all.
        empty_ok = "false" if definition.time_field in self.nullable_groups else "true"
        proved = self.proved_sql()
        checked_time, checked_value = "time_text", time_value
        if proved is not None:
            # Checked only where not proved: the time plan's values alone (no early time).
            checked_time = "check_time_text"
            checked_value = f"coalesce({', '.join(planned)})" if planned else "NULL"
            if checked_index is not None:
                checked_value = "ktv"
        ts_ok = (
            f"CASE WHEN {checked_time} IS NULL THEN true WHEN {checked_time} = '' THEN {empty_ok}"
            f" ELSE {checked_value} IS NOT NULL END"
        )
        ok = f"coalesce({' AND '.join(['matched', ts_ok, *checks, 'lv.exact'])}, false)"
        if proved is not None:
            ok = f"CASE WHEN {proved} THEN coalesce(matched AND lv.exact, false) ELSE {ok} END"
        level = "coalesce(lv.level, il)" if definition.level_infer else "lv.level"
        return (
            f"SELECT key, CASE WHEN nullif(time_text, '') IS NOT NULL THEN {time_value} END AS ts_us, "
            f"{level} AS level, message, host, {fields} AS fields, line AS raw, {ok} AS ok"
            f"{''.join(', ' + name for name in (*extra, *carry))}"
            f" FROM ({s3}) s3 LEFT JOIN {levels} lv ON lv.text = s3.level_text"
        )


def _select(columns: dict[str, str], source: str) -> str:
    items = [expr if name == "*" else f"{expr} AS {sql_name(name)}" for name, expr in columns.items()]
    return f"SELECT {', '.join(items)} FROM {source}"


def plan_for(parser: object, zone: tzinfo, now: datetime | None = None) -> RegexPlan | str:
    """The fast-path plan for `parser`, or the reason there is none."""
    if not isinstance(parser, RegexFormat):
        return f"{getattr(parser, 'name', parser)}: not a declarative regex format"
    definition = parser.definition
    if parser.continuation is not None:
        return f"{parser.name}: multiline"
    names = definition.group_names()
    if len({name.lower() for name in names}) < len(names):
        return f"{parser.name}: group names that differ only in case (DuckDB names are case-blind)"
    nullable: set[str] = set()
    for pattern in definition.patterns:
        nullable |= {name for name, width in group_min_widths(pattern).items() if width == 0}
    patterns: list[str] = []
    wrapped: list[set[str]] = []
    always: list[set[str]] = []
    for pattern in definition.patterns:
        converted = re2_pattern(pattern)
        if converted is None:
            return f"{parser.name}: a pattern RE2 cannot run the same way"
        always.append(nullable & always_participating(pattern))
        to_wrap = (nullable & set(re.compile(pattern).groupindex)) - always[-1]
        converted, names_wrapped = wrap_nullable(converted, to_wrap)
        patterns.append(converted)
        wrapped.append(names_wrapped)
    zone_offset = fixed_offset(zone)
    years = year_map_sql(zone, now)
    time_plans = []
    for index, spec in enumerate(definition.time_formats if definition.time_field else []):
        plan = time_plan(spec)
        if plan.columns(index, zone_offset, years) is None:
            return f"{parser.name}: time format {spec!r} needs the clock or a zone without daylight saving"
        time_plans.append(plan)
    guards = [guard_regex(pattern) for pattern in definition.patterns]
    return RegexPlan(parser, patterns, guards, time_plans, zone_offset, years, nullable, wrapped, always)


def _field_stages(
    plan: RegexPlan, extra_parts: list[str]
) -> tuple[dict[str, str], dict[str, str], list[str], str]:
    """Per field: its text (s1), its typed value (s2); the checks; the `fields` JSON expression
    (with `extra_parts`: SQL giving `"key":value` text or NULL)."""
    definition = plan.parser.definition
    nulls = list(definition.null_values)
    texts: dict[str, str] = {}
    typed: dict[str, str] = {}
    checks: list[str] = []
    parts: list[str] = []
    separate = plan.proved_sql() is not None  # checks read their own texts (`check_group_sql`)
    for index, name in enumerate(definition.field_names()):
        nullable = name in plan.nullable_groups
        kind = definition.types.get(name, "string")
        participating = plan.participating_sql(name) if nullable else None
        value_text, empty = _field_text(plan.group_sql(name), participating, nullable, nulls)
        texts[f"f{index}"] = value_text
        typed[f"v{index}"] = plan.typed_sql(name, f"f{index}", kind)
        prefix = ""
        if separate:
            participating = plan.check_participating_sql(name) if nullable else None
            checked, empty = _field_text(plan.check_group_sql(name), participating, nullable, nulls)
            prefix = "k"
            if kind in ("int", "float"):
                texts[f"kf{index}"] = checked
                typed[f"kv{index}"] = plan.typed_sql(name, f"kf{index}", kind)
        if empty is not None:
            texts[f"{prefix}c{index}"] = empty
            checks.append(f"{prefix}c{index}")
        if kind in ("int", "float"):
            checks.append(f"({prefix}f{index} IS NULL OR {prefix}v{index} IS NOT NULL)")
        key = sql_literal(json.dumps(name) + ":")
        parts.append(f"CASE WHEN v{index} IS NOT NULL THEN {key} || to_json(v{index}) END")
    parts += extra_parts
    body = f"'{{' || concat_ws(',', {', '.join(parts)}) || '}}'" if parts else "'{}'"
    return texts, typed, checks, f"nullif({body}, '{{}}')"


def _field_text(
    text: str, participating: str | None, nullable: bool, nulls: list[str]
) -> tuple[str, str | None]:
    """A field's value text from its group's `text`, and the check that an empty match is told
    from a group that took no part (None where none is needed)."""
    value_text, empty = f"nullif({text}, '')", None
    if participating is not None:
        text = value_text = participating
    elif nullable and "" not in nulls:
        # An empty match and a group that took no part both read as '': only Python can tell.
        empty = f"({text} IS NULL OR {text} <> '')"
    if nulls:
        null_list = ", ".join(sql_literal(value) for value in nulls)
        value_text = f"CASE WHEN {text} IN ({null_list}) THEN NULL ELSE {value_text} END"
    return value_text, empty


def _typed(text: str, kind: str) -> str:
    """The typed value, NULL where Python skips the field or might read it otherwise."""
    if kind == "int":
        return f"CASE WHEN regexp_full_match({text}, {sql_literal(_INT)}) THEN TRY_CAST({text} AS BIGINT) END"
    if kind == "float":
        return (
            f"CASE WHEN regexp_full_match({text}, {sql_literal(_FLOAT)}) THEN TRY_CAST({text} AS DOUBLE) END"
        )
    if kind == "bool":
        true = ", ".join(sql_literal(v) for v in _BOOL_TRUE)
        false = ", ".join(sql_literal(v) for v in _BOOL_FALSE)
        lowered = f"lower({text})"
        return f"CASE WHEN {lowered} IN ({true}) THEN true WHEN {lowered} IN ({false}) THEN false END"
    return text
