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
import warnings
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

import pyarrow as pa
import pyarrow.compute as pc

from logscope.parsing.regexformat import RegexFormat
from logscope.parsing.timeformats import _FULL_MONTHS, _MONTHS, _UTC_NAMES, pattern_to_regex
from logscope.parsing.timestamps import infer_year

# Characters Python's `\s` matches and RE2's does not (RE2: tab, newline, form feed, CR, space).
_PY_ONLY_SPACES = r"[\x0b\x1c-\x1f\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_NON_ASCII = r"[^\x00-\x7f]"
_INT = r"^[+-]?[0-9]+$"
_FLOAT = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_BOOL_TRUE = ("true", "yes", "on", "1", "t", "y")
_BOOL_FALSE = ("false", "no", "off", "0", "f", "n")
# `datetime.fromisoformat` shapes the plan computes itself; other ISO texts go to Python.
_ISO = (
    r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[T ](?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
    r"(?:[.,](?P<f>\d{3}|\d{6}))?(?P<z>Z|[+-]\d{2}:\d{2}|[+-]\d{4})?"
)
_EPOCH = r"(?P<s>[0-9]{1,18}(?:\.[0-9]+)?)"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scan_pattern(pattern: str) -> str | None:
    """`pattern` with unnamed capturing groups made non-capturing and `\\Z` spelled `\\z`.

    None for constructs whose meaning differs between Python and RE2 (`{,n}`, POSIX classes)."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            pair = pattern[index : index + 2]
            out.append("\\z" if pair == "\\Z" and not in_class else pair)
            index += 2
            continue
        if in_class:
            if char == "[" and pattern[index + 1 : index + 2] in (":", "=", "."):
                return None
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            # A `]` or `^]` right after the opening bracket is a literal.
            if pattern[index : index + 1] == "^":
                out.append("^")
                index += 1
            if pattern[index : index + 1] == "]":
                out.append("]")
                index += 1
            continue
        elif char == "(" and pattern[index + 1 : index + 2] != "?":
            out.append("(?:")
            index += 1
            continue
        elif char == "{" and pattern[index + 1 : index + 2] == ",":
            return None
        out.append(char)
        index += 1
    return "".join(out)


def re2_pattern(pattern: str) -> str | None:
    """The RE2 form of a Python pattern, anchored like `re.match`; None when RE2 cannot run it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            compiled = re.compile(pattern)
        except (re.error, FutureWarning, DeprecationWarning):
            return None
    if any(not name.isascii() for name in compiled.groupindex):
        return None
    scanned = _scan_pattern(pattern)
    if scanned is None:
        return None
    converted = f"^(?:{scanned})"
    try:
        pc.extract_regex(pa.array([""], pa.string()), converted)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return converted


_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def _group_end(pattern: str, start: int) -> int:
    """The index just past the group that opens at `start` (escapes and classes skipped)."""
    depth, index, in_class = 0, start, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "^":
                index += 1
            if pattern[index + 1 : index + 2] == "]":
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError("unbalanced group")


def wrap_nullable(pattern: str, names: set[str]) -> tuple[str, set[str]]:
    """Wrap each group that may match empty, with the literal before it, in a `__w_<name>` group.

    A participating group then has a non-empty wrapper, so '' no longer hides whether it took part."""
    wrapped: set[str] = set()
    for name in sorted(names):
        opening = f"(?P<{name}>"
        start = pattern.find(opening)
        if start < 1:
            continue
        atom = 1
        if start >= 2 and pattern[start - 2] == "\\" and not pattern[start - 1].isalnum():
            atom = 2
        elif pattern[start - 1] in _SPECIAL or (start >= 2 and pattern[start - 2] == "\\"):
            continue
        end = _group_end(pattern, start)
        pattern = f"{pattern[: start - atom]}(?P<__w_{name}>{pattern[start - atom : end]}){pattern[end:]}"
        wrapped.add(name)
    return pattern, wrapped


def guard_regex(pattern: str) -> str | None:
    """A regex matching the lines on which Python `re` and RE2 may read `pattern` differently."""
    compiled = re.compile(pattern)
    guards = []
    if compiled.flags & re.IGNORECASE or re.search(r"\\[dDwWbB]", pattern):
        guards.append(_NON_ASCII)
    if re.search(r"\\[sS]", pattern):
        guards.append(_PY_ONLY_SPACES)
    return "|".join(guards) or None


def group_min_widths(pattern: str) -> dict[str, int]:
    """Named group -> the fewest characters it can match (0: it may match empty text)."""
    from re import _parser  # type: ignore[attr-defined]

    names = {index: name for name, index in re.compile(pattern).groupindex.items()}
    widths: dict[str, int] = {}

    def walk(node: object) -> None:
        if isinstance(node, _parser.SubPattern):
            for op, av in node.data:
                if op is _parser.SUBPATTERN and av[0] in names:
                    widths[names[av[0]]] = av[-1].getwidth()[0]
                walk(av)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)

    walk(_parser.parse(pattern))
    return widths


@dataclass
class TimePlan:
    """One time format of a definition: an RE2 for its text and the SQL that turns parts into µs."""

    regex: str
    groups: list[str]
    max_second: int = 60
    strip: bool = True

    def columns(
        self, index: int, zone_offset: int | None, year_map: str | None
    ) -> tuple[dict[str, str], dict[str, str], str] | None:
        """SQL in three stages for time format `index` (struct column `t<index>`): its texts, its
        numbers, and the time in µs (NULL when Python's reader gives None). None: not computable
        (a time of day without a date, or a zone with daylight saving time and no written offset).
        """
        prefix = f"t{index}_"
        # DuckDB names are case-blind (`M` would read `m`): the struct fields carry long names.
        texts = {f"{prefix}{_TIME_GROUPS[g]}": f"nullif(t{index}.{_TIME_GROUPS[g]}, '')" for g in self.groups}
        part = {g: f"{prefix}{_TIME_GROUPS[g]}" for g in self.groups}
        if "s" in part:
            return texts, {f"{prefix}us": _epoch_sql(part["s"])}, f"{prefix}us"
        if "d" not in part:
            return None  # a time of day only (logback): the date comes from the clock, not the line
        month = _month_sql(part)
        day = f"CAST({part['d']} AS INTEGER)"
        year = _year_sql(part, month, day, year_map)
        offset = _offset_sql(part, zone_offset)
        if year is None or offset is None:
            return None
        numbers = {
            f"{prefix}m": month,
            f"{prefix}d": day,
            f"{prefix}hh": f"CAST({part['H']} AS INTEGER)" if "H" in part else _hour12_sql(part),
            f"{prefix}mi": f"coalesce(CAST({part.get('M', 'NULL')} AS INTEGER), 0)",
            f"{prefix}ss": f"coalesce(CAST({part.get('S', 'NULL')} AS INTEGER), 0)",
            f"{prefix}us": f"coalesce(CAST(rpad(left({part['f']}, 6), 6, '0') AS BIGINT), 0)"
            if "f" in part
            else "0",
            f"{prefix}off": offset,
            f"{prefix}y": year,
        }
        y, m, d = f"{prefix}y", f"{prefix}m", f"{prefix}d"
        hour, minute, second = f"{prefix}hh", f"{prefix}mi", f"{prefix}ss"
        valid = (
            f"{hour} <= 23 AND {minute} <= 59 AND {second} <= {self.max_second} AND {y} >= 1"
            f" AND {d} >= 1 AND {d} <= {_days_in_month(y, m)}"
        )
        local = (
            f"CAST({_days_from_civil(y, m, d)} AS BIGINT) * 86400 + {hour} * 3600 + {minute} * 60 + {second}"
        )
        value = f"CASE WHEN {valid} THEN ((({local}) - {prefix}off) * 1000000 + {prefix}us) END"
        return texts, numbers, value


def _days_in_month(year: str, month: str) -> str:
    leap = f"CASE WHEN {year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0) THEN 1 ELSE 0 END"
    return f"CASE WHEN {month} = 2 THEN 28 + {leap} ELSE 30 + (({month} + {month} // 8) % 2) END"


def _days_from_civil(year: str, month: str, day: str) -> str:
    """Days since 1970-01-01 of a proleptic Gregorian date with year >= 1 (H. Hinnant's formula)."""
    shifted = f"({year} - CASE WHEN {month} <= 2 THEN 1 ELSE 0 END)"
    era = f"({shifted} // 400)"
    year_of_era = f"({shifted} - {era} * 400)"
    day_of_year = f"((153 * ({month} + CASE WHEN {month} > 2 THEN -3 ELSE 9 END) + 2) // 5 + {day} - 1)"
    day_of_era = f"({year_of_era} * 365 + {year_of_era} // 4 - {year_of_era} // 100 + {day_of_year})"
    return f"({era} * 146097 + {day_of_era} - 719468)"


def _epoch_sql(text: str) -> str:
    """`epoch_to_us` on an unsigned decimal text: seconds, ms, µs or ns by magnitude."""
    number = f"CAST({text} AS DOUBLE)"
    whole = f"CAST({text} AS BIGINT)"
    as_float = (
        f"CASE WHEN {number} < 1e11 THEN CAST(round_even({number} * 1000000, 0) AS BIGINT)"
        f" WHEN {number} < 1e14 THEN CAST(round_even({number} * 1000, 0) AS BIGINT)"
        f" WHEN {number} < 1e17 THEN CAST(trunc({number}) AS BIGINT)"
        f" ELSE CAST(trunc({number}) AS BIGINT) // 1000 END"
    )
    as_int = (
        f"CASE WHEN {whole} < 100000000000 THEN {whole} * 1000000"
        f" WHEN {whole} < 100000000000000 THEN {whole} * 1000"
        f" WHEN {whole} < 100000000000000000 THEN {whole} ELSE {whole} // 1000 END"
    )
    return f"CASE WHEN contains({text}, '.') THEN {as_float} ELSE {as_int} END"


def _month_sql(part: dict[str, str]) -> str:
    if "m" in part:
        value = f"CAST({part['m']} AS INTEGER)"
        return f"CASE WHEN {value} BETWEEN 1 AND 12 THEN {value} END"
    names = _MONTHS if "b" in part else _FULL_MONTHS
    text = part.get("b") or part["B"]
    cases = " ".join(f"WHEN {sql_literal(name)} THEN {number}" for name, number in names.items())
    return f"CASE lower({text}) {cases} END"


def _hour12_sql(part: dict[str, str]) -> str:
    hour = f"(coalesce(CAST({part.get('I', 'NULL')} AS INTEGER), 0) % 12)"
    if "p" not in part:
        return hour
    return f"({hour} + CASE WHEN lower({part['p']}) = 'pm' THEN 12 ELSE 0 END)"


def _year_sql(part: dict[str, str], month: str, day: str, year_map: str | None) -> str | None:
    if "Y" in part:
        return f"CAST({part['Y']} AS INTEGER)"
    if "y" in part:
        two = f"CAST({part['y']} AS INTEGER)"
        return f"CASE WHEN {two} < 69 THEN 2000 + {two} ELSE 1900 + {two} END"
    if year_map is None:
        return None
    return f"{year_map}[{month} * 100 + {day}]"


def _offset_sql(part: dict[str, str], zone_offset: int | None) -> str | None:
    """Seconds east of UTC: the written offset, a UTC zone name, else the fixed --tz offset."""
    fallback = str(zone_offset) if zone_offset is not None else None
    if "Z" in part:
        names = ", ".join(sql_literal(name) for name in sorted(_UTC_NAMES))
        fallback = f"CASE WHEN {part['Z']} IN ({names}) THEN 0 ELSE {fallback or 'NULL'} END"
    if "z" in part:
        text = part["z"]
        digits = f"replace({text}, ':', '')"
        sign = f"CASE WHEN left({text}, 1) = '-' THEN -1 ELSE 1 END"
        minutes = f"coalesce(CAST(nullif(substr({digits}, 4, 2), '') AS INTEGER), 0)"
        written = f"{sign} * (CAST(substr({digits}, 2, 2) AS INTEGER) * 3600 + {minutes} * 60)"
        written = f"CASE WHEN {text} = 'Z' THEN 0 ELSE {written} END"
        return f"CASE WHEN {text} IS NOT NULL THEN {written} ELSE {fallback or 'NULL'} END"
    return fallback


_TIME_GROUPS = {
    **{"Y": "year4", "y": "year2", "m": "month", "d": "day", "b": "month_abbr", "B": "month_name"},
    **{"H": "hour", "I": "hour12", "p": "ampm", "M": "minute", "S": "second", "f": "fraction"},
    **{"z": "utc_offset", "Z": "zone_name", "s": "epoch"},
}


def _long_names(regex: str) -> str:
    return re.sub(r"\(\?P<(\w)>", lambda m: f"(?P<{_TIME_GROUPS[m.group(1)]}>", regex)


def time_plan(spec: str) -> TimePlan:
    if spec == "iso":
        groups = ["Y", "m", "d", "H", "M", "S", "f", "z"]
        return TimePlan(_long_names(f"^{_ISO}$"), groups, max_second=59, strip=False)
    if spec == "epoch":
        return TimePlan(_long_names(f"^{_EPOCH}$"), ["s"], strip=False)
    body = pattern_to_regex(spec)
    groups = list(re.compile(body).groupindex)
    return TimePlan(_long_names(rf"^[ \t\n\r\f]*(?:{body})[ \t\n\r\f]*$"), groups)


def _fixed_offset(zone: tzinfo) -> int | None:
    from logscope.parsing.timeformats import _fixed_offset as fixed

    return fixed(zone)


def year_map_sql(zone: tzinfo, now: datetime | None = None) -> str:
    """A DuckDB MAP from month * 100 + day to the year a year-less date is read in."""
    now = now or datetime.now(zone)
    entries = ", ".join(
        f"{month * 100 + day}: {infer_year(month, day, now)}"
        for month in range(1, 13)
        for day in range(1, 32)
    )
    return f"MAP {{{entries}}}"


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

    @property
    def name(self) -> str:
        return self.parser.name

    def prepare(self, lines: pa.Array) -> pa.Table:
        """The Arrow columns the SQL reads: per pattern its group struct, line checks, time parts."""
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
        result = pa.nulls(len(structs[0]), pa.string())
        for struct in reversed(structs):
            if name in {struct.type.field(i).name for i in range(struct.type.num_fields)}:
                result = pc.if_else(pc.is_valid(struct), pc.struct_field(struct, name), result)
        return result

    def group_sql(self, name: str) -> str:
        """The text of group `name` from the first pattern that matched (NULL if it has none)."""
        if len(self.patterns) == 1:
            # Rows where the pattern did not match are not `ok`: what they read does not matter.
            has = name in re.compile(self.parser.patterns[0]).groupindex
            return f"p0.{sql_name(name)}" if has else "NULL"
        cases = [
            f"WHEN p{index} IS NOT NULL THEN p{index}.{sql_name(name)}"
            for index, pattern in enumerate(self.parser.patterns)
            if name in re.compile(pattern).groupindex
        ]
        return f"CASE {' '.join(cases)} END" if cases else "NULL"

    def participating_sql(self, name: str) -> str | None:
        """The text of group `name`, NULL where it took no part; None if that cannot be told."""
        cases = []
        for index, pattern in enumerate(self.parser.patterns):
            if name not in re.compile(pattern).groupindex:
                continue
            if name not in self.wrapped[index]:
                return None
            wrapper = sql_name(f"__w_{name}")
            value = f"CASE WHEN p{index}.{wrapper} <> '' THEN p{index}.{sql_name(name)} END"
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

    def level_text_sql(self) -> str:
        """The level group's text ('' when absent): the key of the level table."""
        field_name = self.parser.definition.level_field
        return f"coalesce({self.group_sql(field_name)}, '')" if field_name else "''"

    def level_table(self, texts: list[str]) -> pa.Table:
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
        return pa.table(
            {
                "text": pa.array(texts, pa.string()),
                "level": pa.array(levels, pa.string()),
                "exact": pa.array(exact, pa.bool_()),
            }
        )

    def select_sql(self, block: str, levels: str) -> str:
        """Rows (key, ts_us, level, message, host, fields, raw, ok) for every line of `block`.

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
        }
        numbers: dict[str, str] = {}
        times: list[str] = []
        for index, plan in enumerate(self.time_plans):
            staged = plan.columns(index, self.zone_offset, self.year_map)
            assert staged is not None
            texts.update(staged[0])
            numbers.update(staged[1])
            times.append(staged[2])
        field_texts, typed, checks, fields = _field_stages(self)
        texts.update(field_texts)
        numbers.update(typed)
        time_values = {f"tv{index}": value for index, value in enumerate(times)}
        s1 = _select(texts, f"{block}")
        s2 = _select({"*": "*", **numbers}, f"({s1}) s1")
        s3 = _select({"*": "*", **time_values}, f"({s2}) s2")
        time_value = f"coalesce({', '.join(time_values)})" if time_values else "NULL"
        # '' from a group that may match empty: a bad time (rejects the line) or no time at all.
        empty_ok = "false" if definition.time_field in self.nullable_groups else "true"
        ts_ok = (
            f"CASE WHEN time_text IS NULL THEN true WHEN time_text = '' THEN {empty_ok}"
            f" ELSE {time_value} IS NOT NULL END"
        )
        ok = " AND ".join(["matched", ts_ok, *checks, "lv.exact"])
        return (
            f"SELECT key, CASE WHEN nullif(time_text, '') IS NOT NULL THEN {time_value} END AS ts_us, "
            f"lv.level, message, host, {fields} AS fields, line AS raw, coalesce({ok}, false) AS ok "
            f"FROM ({s3}) s3 LEFT JOIN {levels} lv ON lv.text = s3.level_text"
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
    for pattern in definition.patterns:
        converted = re2_pattern(pattern)
        if converted is None:
            return f"{parser.name}: a pattern RE2 cannot run the same way"
        converted, names_wrapped = wrap_nullable(converted, nullable & set(re.compile(pattern).groupindex))
        patterns.append(converted)
        wrapped.append(names_wrapped)
    zone_offset = _fixed_offset(zone)
    years = year_map_sql(zone, now)
    time_plans = []
    for index, spec in enumerate(definition.time_formats if definition.time_field else []):
        plan = time_plan(spec)
        if plan.columns(index, zone_offset, years) is None:
            return f"{parser.name}: time format {spec!r} needs the clock or a zone without daylight saving"
        time_plans.append(plan)
    guards = [guard_regex(pattern) for pattern in definition.patterns]
    return RegexPlan(parser, patterns, guards, time_plans, zone_offset, years, nullable, wrapped)


def _field_stages(plan: RegexPlan) -> tuple[dict[str, str], dict[str, str], list[str], str]:
    """Per field: its text (s1), its typed value (s2); the checks; the `fields` JSON expression."""
    definition = plan.parser.definition
    nulls = list(definition.null_values)
    null_list = ", ".join(sql_literal(value) for value in nulls)
    texts: dict[str, str] = {}
    typed: dict[str, str] = {}
    checks: list[str] = []
    parts: list[str] = []
    for index, name in enumerate(definition.field_names()):
        text = plan.group_sql(name)
        value_text = f"nullif({text}, '')"
        participating = plan.participating_sql(name) if name in plan.nullable_groups else None
        if participating is not None:
            text = value_text = participating
        elif name in plan.nullable_groups and "" not in nulls:
            # An empty match and a group that took no part both read as '': only Python can tell.
            texts[f"c{index}"] = f"({text} IS NULL OR {text} <> '')"
            checks.append(f"c{index}")
        if null_list:
            value_text = f"CASE WHEN {text} IN ({null_list}) THEN NULL ELSE {value_text} END"
        texts[f"f{index}"] = value_text
        kind = definition.types.get(name, "string")
        typed[f"v{index}"] = _typed(f"f{index}", kind)
        if kind in ("int", "float"):
            checks.append(f"(f{index} IS NULL OR v{index} IS NOT NULL)")
        key = sql_literal(json.dumps(name) + ":")
        parts.append(f"CASE WHEN v{index} IS NOT NULL THEN {key} || to_json(v{index}) END")
    body = f"'{{' || concat_ws(',', {', '.join(parts)}) || '}}'" if parts else "'{}'"
    return texts, typed, checks, f"nullif({body}, '{{}}')"


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
