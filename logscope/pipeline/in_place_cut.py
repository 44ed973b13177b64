"""A regex plan whose usual lines are cut by position (parsing/vectorized/cuts.py), in a file scan.

`CutPlan` is the format's `RegexPlan` reading each group from its own column (`x_<name>`): on
lines the strict pattern matches (`fast`), the cut; on the others, the group of the plan's RE2
extraction, which runs only on them. The plan's SQL (times, typed values, levels, `ok`) is the
same for both, so a cut line is checked as an extracted one is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from logscope.parsing.vectorized.cuts import Cut, TimeCut, cut_for, time_cut
from logscope.parsing.vectorized.plans import RegexPlan
from logscope.parsing.vectorized.re2 import sql_literal, sql_name
from logscope.pipeline.in_place_scan import _extract, _struct_names


@dataclass
class CutPlan(RegexPlan):
    """A single-pattern `RegexPlan` with a cut for its usual lines (see the module docstring)."""

    cut: Cut | None = None
    time_struct: str = ""  # SQL: the time regex's struct cut from `x_<time field>` (fast lines)
    native_time: str = ""  # SQL: µs of a fast line's time by DuckDB's strptime, or NULL (below)
    # A fast line passes every check (`proves`, below): the checks read the extraction's groups,
    # so that a query computes only the cuts it reads (docs/benchmarks.md, fifth round).
    proved: bool = False

    def early_times(self) -> tuple[str, ...]:
        return ("tf",) if self.native_time else ()

    def carried(self) -> tuple[str, ...]:
        return ("fast", *self.early_times())

    def typed_sql(self, name: str, text: str, kind: str) -> str:
        """On a fast line an integer group the strict pattern holds to ASCII digits is cast with
        no check (the check is a regex match per value)."""
        assert self.cut is not None
        typed = super().typed_sql(name, text, kind)
        if kind != "int" or name not in self.cut.digits:
            return typed
        return f"CASE WHEN fast THEN TRY_CAST({text} AS BIGINT) ELSE {typed} END"

    def group_sql(self, name: str) -> str:
        return sql_name(f"x_{name}") if name in self.cut.groups else "NULL"

    def participating_sql(self, name: str) -> str | None:
        if name in self.wrapped[0]:
            return sql_name(f"w_{name}")
        # A group every match of the pattern takes part in: on a fast line too (the line matches).
        return self.group_sql(name) if name in self.always[0] else None

    def proved_sql(self) -> str | None:
        return "fast" if self.proved else None

    def check_time_index(self) -> int | None:
        # Proved without strptime: the value's time struct (t0) is the cut's on fast lines, so
        # the checks read their own (t1, the extraction's, NULL on fast lines).
        return 1 if self.proved and self.time_plans and not self.native_time else None

    def check_group_sql(self, name: str) -> str:
        # Not fast: the extraction's group (NULL on fast lines, where no check is read).
        return RegexPlan.group_sql(self, name) if self.proved else self.group_sql(name)

    def check_participating_sql(self, name: str) -> str | None:
        return RegexPlan.participating_sql(self, name) if self.proved else self.participating_sql(name)

    def matched_sql(self) -> str:
        first = "first_ok AND " if self.parser.first_chars is not None else ""
        return f"({first}fast OR {super().matched_sql()})"


def cut_plan(plan: RegexPlan) -> CutPlan | None:
    """`plan` with its format's cut, or None where the format has none."""
    definition = plan.parser.definition
    if len(definition.patterns) != 1 or len(plan.time_plans) > 1:
        return None
    spec = definition.time_formats[0] if definition.time_field and definition.time_formats else None
    cut = cut_for(definition.patterns[0], spec)
    if cut is None or set(cut.groups) != set(_struct_names(plan.patterns[0])) - _wrappers(plan):
        return None
    time_struct = native = ""
    if plan.time_plans:
        names = _struct_names(plan.time_plans[0].regex)
        timed = time_cut(spec or "")
        if timed is None or set(timed.parts) != set(names):
            return None
        text = sql_name(f"x_{definition.time_field}")
        parts = ", ".join(
            f"{name} := substr({text}, {timed.parts[name][0] + 1}, {timed.parts[name][1]})" for name in names
        )
        time_struct = f"struct_pack(__all := {text}, {parts})"
        native = native_time_sql(spec or "", timed, text)
    values = {item.name: getattr(plan, item.name) for item in fields(RegexPlan)}
    made = CutPlan(**values, cut=cut, time_struct=time_struct, native_time=native)
    made.proved = proves(made)
    return made


def proves(plan: CutPlan) -> bool:
    """Whether a fast line passes every check of the plan but `matched` and the level's: its time
    is a valid one (`Cut.valid_time`: strptime, or the time plan with the inferred year, reads
    it), its typed values integers of at most 18 digits, and each group that may match empty
    tells an empty match from no part."""
    assert plan.cut is not None
    definition = plan.parser.definition
    if not plan.cut.valid_time:
        return False
    for name in definition.field_names():
        kind = definition.types.get(name, "string")
        if kind in ("int", "float") and (kind != "int" or name not in plan.cut.digits):
            return False
        ambiguous = name in plan.nullable_groups and "" not in definition.null_values
        if ambiguous and plan.participating_sql(name) is None:
            return False
    return True


# The directives DuckDB's strptime reads as the time plan does (times.py) on a text of the fixed
# shape: the same fields, the same calendar checks (it refuses 31/Feb, hour 24 and second 60,
# which the plan refuses or leaves to it), the offset as sign * (hh * 3600 + mm * 60).
_NATIVE = frozenset("YmdbHMSz")


def native_time_sql(spec: str, timed: TimeCut, text: str) -> str:
    """SQL giving the µs of a time `text` of the fixed shape by `strptime`, NULL where it does not
    read it (the time plan then decides); '' where the spec is not one it reads alike.

    Computing the time plan's fields from their texts costs a third of a nginx scan; strptime
    reads the same text in one C++ call. Only specs naming the zone (`%z`) and a four-digit year
    (so no year or zone is inferred), and year 0000, which strptime reads and the plan refuses,
    is left to the plan."""
    directives = set(spec[index + 1] for index, char in enumerate(spec[:-1]) if char == "%")
    if not directives <= _NATIVE or not {"Y", "z", "d", "H", "M", "S"} <= directives:
        return ""
    if not directives & {"m", "b"}:
        return ""
    year_at = timed.parts["year4"][0] + 1
    return (
        f"CASE WHEN substr({text}, {year_at}, 4) <> '0000'"
        f" THEN epoch_us(try_strptime({text}, {sql_literal(spec)})) END"
    )


def _wrappers(plan: RegexPlan) -> set[str]:
    return {f"__w_{name}" for name in plan.wrapped[0]}


def cut_block_sql(plan: CutPlan, lines: str, carry: tuple[str, ...] = ()) -> str:
    """The columns `CutPlan.select_sql` reads, over `lines` (line, key): `fast`, per group its
    text (`x_<name>`) and participation (`w_<name>`), the guard, the time parts; the `carry`
    columns of `lines` passed through."""
    assert plan.cut is not None
    cut = plan.cut
    first = ""
    if plan.parser.first_chars is not None:
        chars = ", ".join(sql_literal(char) for char in sorted(plan.parser.first_chars))
        first = f", substring(line, 1, 1) IN ({chars}) AS first_ok"
    extract, pick = _extract(plan.patterns[0], "line", "m0")
    carried = "".join(f", {name}" for name in carry)
    head = cut.head_sql()
    if head is not None:
        lines = f"SELECT *, {head} AS __head FROM ({lines}) h"
        carried += ", __head"
    s0 = f"SELECT line, key{carried}, {cut.fast_sql()} AS fast{first} FROM ({lines}) l"
    s1 = f"SELECT *, CASE WHEN NOT fast THEN {extract} END AS m0 FROM ({s0}) s0"
    guard = plan.guards[0]
    guarded = ""
    if guard is not None:
        guarded = f", CASE WHEN fast THEN false ELSE regexp_matches(line, {sql_literal(guard)}) END AS g0"
    s2 = f"SELECT * EXCLUDE (m0), {pick} AS p0{guarded} FROM ({s1}) s1"
    columns = [
        f"CASE WHEN fast THEN {sql} ELSE p0.{sql_name(name)} END AS {sql_name('x_' + name)}"
        for name, sql in cut.groups.items()
    ]
    for name in sorted(plan.wrapped[0]):
        taking = cut.participating.get(name, "false")
        slow = f"CASE WHEN p0.{sql_name('__w_' + name)} <> '' THEN p0.{sql_name(name)} END"
        columns.append(
            f"CASE WHEN fast THEN CASE WHEN {taking} THEN {cut.groups[name]} END ELSE {slow} END"
            f" AS {sql_name('w_' + name)}"
        )
    s3 = f"SELECT *, {', '.join(columns)} FROM ({s2}) s2"
    if not plan.time_plans:
        return s3
    # On lines that are not fast, the time text is the extraction's (x_<time> would make it
    # computed on every line where the checks read it).
    text = plan.check_group_sql(plan.parser.definition.time_field or "")
    extract, pick = _extract(plan.time_plans[0].regex, text, "n0")
    s4 = f"SELECT *, CASE WHEN NOT fast THEN {extract} END AS n0 FROM ({s3}) s3"
    if plan.proved and plan.native_time:
        # A fast line's time is strptime's (`tf`, never NULL there): the time plan gets no parts.
        s5 = f"SELECT *, CASE WHEN fast THEN {plan.native_time} END AS tf FROM ({s4}) s4"
        return f"SELECT *, CASE WHEN NOT fast THEN {pick} END AS t0 FROM ({s5}) s5"
    if not plan.native_time:
        value = f"CASE WHEN fast THEN {plan.time_struct} ELSE {pick} END AS t0"
        checked = f", CASE WHEN NOT fast THEN {pick} END AS t1" if plan.check_time_index() else ""
        return f"SELECT *, {value}{checked} FROM ({s4}) s4"
    # Where strptime read a fast line's time, the time plan gets no parts (NULL): it does nothing.
    s5 = f"SELECT *, CASE WHEN fast THEN {plan.native_time} END AS tf FROM ({s4}) s4"
    struct = f"CASE WHEN tf IS NOT NULL THEN NULL WHEN fast THEN {plan.time_struct} ELSE {pick} END"
    return f"SELECT *, {struct} AS t0 FROM ({s5}) s5"
