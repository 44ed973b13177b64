"""The bulk-import plan for JSON lines: DuckDB's JSON functions do what `JsonLinesParser` does.

The conventions are the parser's (parsing/conventions.py): the first time key holding a readable
time, the first level key holding a known level, the first message and host keys holding strings
are taken out; the rest of the object is `fields`. One `json_extract` with every candidate path
parses each line once. Levels are normalized by the parser's own function, once per distinct
combination of candidate values. Lines are left to the streaming parser (not `ok`) where DuckDB's
JSON reader and orjson could disagree: NaN/Infinity, trailing commas, huge numbers, duplicate
keys, leading blanks, times in shapes not computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logscope.parsing.bulk import _days_from_civil, _days_in_month, _fixed_offset, _select, sql_literal
from logscope.parsing.conventions import HOST_KEYS, LEVEL_KEYS, MESSAGE_KEYS, TIME_KEYS
from logscope.parsing.jsonlines import JsonLinesParser
from logscope.parsing.levels import normalize_level

KEYS = (*TIME_KEYS, *LEVEL_KEYS, *MESSAGE_KEYS, *HOST_KEYS)
# Lines orjson may read differently from DuckDB (yyjson): leave them to the streaming parser.
_GUARD = (
    r"[:,\[]\s*-?(?:NaN|Infinity)|,\s*[}\]]|[:,\[]\s*-?[0-9]{19,}"
    r"|[:,\[]\s*-?[0-9.]+[eE][+-]?[0-9]{3,}|[\x00-\x1f]"
)
_ISO_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}|\.[0-9]{6})?(Z|[+-][0-9]{2}:[0-9]{2})?$"


def _path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


@dataclass
class JsonPlan:
    """The fast path for `JsonLinesParser` (see the module docstring)."""

    parser: JsonLinesParser
    zone_offset: int | None

    @property
    def name(self) -> str:
        return self.parser.name

    def prepare(self, lines: pa.Array) -> pa.Table:
        first = pc.utf8_slice_codeunits(lines, 0, 1)
        shape_ok = pc.and_(pc.equal(first, "{"), pc.invert(pc.match_substring_regex(lines, _GUARD)))
        table = pa.table({"line": lines, "shape_ok": pc.fill_null(shape_ok, False)})
        return table.replace_schema_metadata({"keys": orjson.dumps(_present_keys(lines))})

    def level_text_sql(self, block: pa.Table | None = None) -> str:
        """The level keys present and their values as one JSON object (the level table's key)."""
        keys = _Keys.of(block)
        if not keys.level:
            return "''"
        items = ", ".join(
            f"{sql_literal(key)}, json_extract(line, {sql_literal(_path(key))})" for key in keys.level
        )
        return f"CASE WHEN shape_ok AND json_valid(line) THEN json_object({items})::VARCHAR ELSE '' END"

    def level_table(self, texts: list[str]) -> pa.Table:
        """Per distinct object of candidate values: the level and the key `take_level` takes."""
        levels: list[str | None] = []
        taken: list[str | None] = []
        for text in texts:
            level, key = None, None
            for name, value in (orjson.loads(text) if text else {}).items():
                found = normalize_level(value)
                if found is not None:
                    level, key = found, name
                    break
            levels.append(level)
            taken.append(key)
        return pa.table(
            {
                "text": pa.array(texts, pa.string()),
                "level": pa.array(levels, pa.string()),
                "taken": pa.array(taken, pa.string()),
                "exact": pa.array([True] * len(texts), pa.bool_()),
            }
        )

    def select_sql(self, block: str, levels: str, table: pa.Table | None = None) -> str:
        """Rows (key, ts_us, level, message, host, fields, raw, ok), for the keys the block holds."""
        keys = _Keys.of(table)
        every = [*keys.time, *keys.message, *keys.host]
        s0 = _select(
            {
                "key": "key",
                "line": "line",
                "valid": "shape_ok AND json_valid(line)",
                "level_text": self.level_text_sql(table),
            },
            block,
        )
        paths = "[" + ", ".join(sql_literal(_path(key)) for key in every) + "]"
        s1 = _select(
            {
                "*": "*",
                "e": f"CASE WHEN valid THEN json_extract(line, {paths}) END" if every else "NULL",
                "unique_keys": "CASE WHEN valid THEN len(json_keys(line)) = len(list_distinct(json_keys(line))) END",
            },
            f"({s0}) s0",
        )
        types = {f"ty{i}": f"json_type(e[{i + 1}])" for i in range(len(every))}
        strings = {f"st{i}": f"e[{i + 1}] ->> '$'" for i in range(len(every))}
        s2 = _select({"*": "*", **types, **strings}, f"({s1}) s1")
        values: dict[str, str] = {}
        doubts: dict[str, str] = {}
        for i in range(len(keys.time)):
            values[f"tv{i}"], doubts[f"tu{i}"] = self._time(i)
        s3 = _select({"*": "*", **doubts}, f"({_select({'*': '*', **values}, f'({s2}) s2')}) s25")
        chosen, time_ok, taken_time = self._time_choice(keys.time)
        message, message_key = self._first_string(keys.message, len(keys.time))
        host, host_key = self._first_string(keys.host, len(keys.time) + len(keys.message))
        patch_items = ", ".join(
            f"CASE WHEN {key} IS NOT NULL THEN to_json({key}) || ':null' END"
            for key in (taken_time, "lv.taken", message_key, host_key)
        )
        patch = f"'{{' || concat_ws(',', {patch_items}) || '}}'"
        fields = f"nullif(json_merge_patch(line, {patch})::VARCHAR, '{{}}')"
        ok = f"coalesce(valid AND unique_keys AND {time_ok} AND lv.exact, false)"
        message = f"coalesce(rtrim({message}, chr(13) || chr(10)), '')"
        return (
            f"SELECT key, {chosen} AS ts_us, lv.level, {message} AS message, nullif({host}, '') AS host, "
            f"CASE WHEN valid THEN {fields} END AS fields, line AS raw, {ok} AS ok "
            f"FROM ({s3}) s3 LEFT JOIN {levels} lv ON lv.text = s3.level_text"
        )

    def _time(self, i: int) -> tuple[str, str]:
        """(µs or NULL, uncertain) for time key `i`, as `parse_time_value` reads the value."""
        ty, text = f"ty{i}", f"st{i}"
        number = f"CAST(e[{i + 1}] AS DOUBLE)"
        whole = f"TRY_CAST(e[{i + 1}] AS BIGINT)"
        value = (
            f"CASE WHEN {ty} IN ('BIGINT', 'UBIGINT') THEN {_epoch_int(whole)}"
            f" WHEN {ty} = 'DOUBLE' THEN {_epoch_float(number)}"
            f" WHEN {ty} = 'VARCHAR' THEN CASE"
            f" WHEN regexp_full_match({text}, '[0-9]{{1,18}}') THEN {_epoch_int(f'CAST({text} AS BIGINT)')}"
            f" WHEN regexp_full_match({text}, '[0-9]{{1,18}}\\.[0-9]{{0,18}}') THEN {_epoch_float(f'CAST({text} AS DOUBLE)')}"
            f" WHEN regexp_full_match({text}, {sql_literal(_ISO_SHAPE)}) THEN {self._iso(text)} END END"
        )
        # Uncertain: values Python might read where this does not, or read otherwise.
        uncertain = (
            f"CASE WHEN {ty} IN ('BIGINT', 'UBIGINT') THEN {whole} IS NULL OR {whole} < 0"
            f" WHEN {ty} = 'DOUBLE' THEN {number} < 0 OR isnan({number}) OR isinf({number})"
            f" WHEN {ty} = 'VARCHAR' THEN {text} <> '' AND tv{i} IS NULL"
            f" AND (NOT regexp_matches(left({text}, 1), '^[a-zA-Z_@\"''{{}}\\[\\] ]$'))"
            f" ELSE false END"
        )
        return value, uncertain

    def _iso(self, text: str) -> str:
        """µs of an ISO text of the checked shape (fixed positions), NULL where Python gives None."""
        y, m, d = (f"CAST(substr({text}, {a}, {n}) AS BIGINT)" for a, n in ((1, 4), (6, 2), (9, 2)))
        hh, mi, ss = (f"CAST(substr({text}, {a}, 2) AS BIGINT)" for a in (12, 15, 18))
        digits = f"CASE WHEN substr({text}, 20, 1) <> '.' THEN 0 WHEN regexp_full_match(substr({text}, 21, 6), '[0-9]{{6}}') THEN 6 ELSE 3 END"
        fraction = f"nullif(substr({text}, 21, {digits}), '')"
        micros = f"coalesce(CAST(rpad({fraction}, 6, '0') AS BIGINT), 0)"
        zone = f"substr({text}, 20 + CASE WHEN {digits} > 0 THEN {digits} + 1 ELSE 0 END)"
        written = (
            f"CASE WHEN {zone} = 'Z' THEN 0 ELSE (CASE WHEN left({zone}, 1) = '-' THEN -1 ELSE 1 END)"
            f" * (CAST(substr({zone}, 2, 2) AS BIGINT) * 3600 + CAST(substr({zone}, 5, 2) AS BIGINT) * 60) END"
        )
        fixed = str(self.zone_offset) if self.zone_offset is not None else "NULL"
        offset = f"CASE WHEN {zone} = '' THEN {fixed} ELSE {written} END"
        valid = (
            f"{m} BETWEEN 1 AND 12 AND {d} >= 1 AND {d} <= {_days_in_month(y, m)} AND {hh} <= 23"
            f" AND {mi} <= 59 AND {ss} <= 59 AND {y} >= 1"
        )
        local = f"{_days_from_civil(y, m, d)} * 86400 + {hh} * 3600 + {mi} * 60 + {ss}"
        return f"CASE WHEN {valid} THEN (({local}) - ({offset})) * 1000000 + {micros} END"

    def _time_choice(self, keys: list[str]) -> tuple[str, str, str]:
        """(the time taken, whether Python takes the same one, the key it is taken from)."""
        if not keys:
            return "NULL", "true", "NULL"
        value_cases, ok_cases, key_cases = [], [], []
        for i, key in enumerate(keys):
            ok_cases.append(f"WHEN tu{i} THEN false WHEN tv{i} IS NOT NULL THEN true")
            value_cases.append(f"WHEN tv{i} IS NOT NULL THEN tv{i}")
            key_cases.append(f"WHEN tv{i} IS NOT NULL THEN {sql_literal(key)}")
        return (
            f"CASE {' '.join(value_cases)} END",
            f"CASE {' '.join(ok_cases)} ELSE true END",
            f"CASE {' '.join(key_cases)} END",
        )

    def _first_string(self, keys: list[str], offset: int) -> tuple[str, str]:
        """(the first of `keys` holding a string, its key): what `take_string` takes."""
        if not keys:
            return "NULL", "NULL"
        values = " ".join(f"WHEN ty{offset + i} = 'VARCHAR' THEN st{offset + i}" for i in range(len(keys)))
        names = " ".join(
            f"WHEN ty{offset + i} = 'VARCHAR' THEN {sql_literal(key)}" for i, key in enumerate(keys)
        )
        return f"CASE {values} END", f"CASE {names} END"


@dataclass
class _Keys:
    """The convention keys a block's lines may hold, per role, in the parser's order."""

    time: list[str]
    level: list[str]
    message: list[str]
    host: list[str]

    @classmethod
    def of(cls, table: pa.Table | None) -> _Keys:
        metadata = table.schema.metadata if table is not None else None
        present = set(orjson.loads(metadata[b"keys"])) if metadata and b"keys" in metadata else set(KEYS)
        pick = lambda group: [key for key in group if key in present]  # noqa: E731
        return cls(pick(TIME_KEYS), pick(LEVEL_KEYS), pick(MESSAGE_KEYS), pick(HOST_KEYS))


def _present_keys(lines: pa.Array) -> list[str]:
    """The candidate keys written (as `"key"`) somewhere in the block; all when escapes could hide one."""
    if pc.any(pc.match_substring(lines, "\\u")).as_py():
        return list(KEYS)
    return [key for key in KEYS if pc.any(pc.match_substring(lines, f'"{key}"')).as_py()]


def _epoch_int(whole: str) -> str:
    return (
        f"CASE WHEN {whole} < 100000000000 THEN {whole} * 1000000"
        f" WHEN {whole} < 100000000000000 THEN {whole} * 1000"
        f" WHEN {whole} < 100000000000000000 THEN {whole} ELSE {whole} // 1000 END"
    )


def _epoch_float(number: str) -> str:
    return (
        f"CASE WHEN {number} < 1e11 THEN CAST(round_even({number} * 1000000, 0) AS BIGINT)"
        f" WHEN {number} < 1e14 THEN CAST(round_even({number} * 1000, 0) AS BIGINT)"
        f" WHEN {number} < 1e17 THEN CAST(trunc({number}) AS BIGINT)"
        f" ELSE CAST(trunc({number}) AS BIGINT) // 1000 END"
    )


def json_plan_for(parser: object, zone: tzinfo) -> JsonPlan | None:
    if isinstance(parser, JsonLinesParser):
        return JsonPlan(parser, _fixed_offset(zone))
    return None
