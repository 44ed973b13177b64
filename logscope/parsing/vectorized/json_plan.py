"""JSON lines in SQL: what `JsonLinesParser.parse` makes of a line, computed by DuckDB's JSON functions.

The conventional keys (parsing/conventions.py) are read with one multi-path `json_extract`; the
time, level, message and host are taken as `take_time`, `take_level` and `take_string` take them,
and `fields` is the object without the taken keys (`json_merge_patch` with nulls). As with the
regex plans (plans.py), `ok` is true only where the SQL result is provably the parser's: the
line starts with `{`, is one JSON object that orjson reads the same way (no duplicate keys, no
`\\u` escapes, no long digit runs, no trailing commas, NaN or Infinity), and the first time and
level keys present hold values the SQL reads (ISO 8601 shapes and epoch numbers; levels the
normalizer knows). Other lines go back to the streaming parser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING

from logscope.parsing.conventions import HOST_KEYS, LEVEL_KEYS, MESSAGE_KEYS, TIME_KEYS
from logscope.parsing.levels import _NAMES, _NUMERIC, normalize_level
from logscope.parsing.vectorized.level_tables import LevelColumns, arrow_table
from logscope.parsing.vectorized.re2 import sql_literal
from logscope.parsing.vectorized.times import _epoch_sql, fixed_offset, time_plan

if TYPE_CHECKING:
    import pyarrow as pa

_KEYS = (*TIME_KEYS, *LEVEL_KEYS, *MESSAGE_KEYS, *HOST_KEYS)
# Lines orjson may read otherwise than DuckDB's yyjson (or refuse): escapes (lone surrogates, keys
# spelled with escapes), numbers beyond 64 bits or with digits a double cannot hold, NaN and
# Infinity, trailing commas, positive exponents (a double of 1e16 or more: orjson writes `1e+21`
# where yyjson writes `1e21`). An exponent is looked for in numbers only (a value after `:`, `,`
# or `[`), not in strings: hex ids such as "c8e3…" would send a third of a file to the parser.
_DOUBTFUL = r"\\u|[0-9]{16}|[:,\[][ \t\n\r]*-?[0-9]+(?:\.[0-9]+)?[eE]\+?[0-9]|NaN|Infinity|,[ \t\n\r]*[}\]]"
_ISO = time_plan("iso")
# The usual ISO shape, whose parts sit at fixed places: cut with substr, the same texts the ISO
# regex gives (a regex extraction costs several times a DFA match).
_FAST_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:[.,](?:[0-9]{3}|[0-9]{6}))?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_UTC_MS = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"
_UTC_MS_FORMAT = "%Y-%m-%dT%H:%M:%S.%gZ"
_ZONE = (
    "CASE WHEN right(time_text, 1) = 'Z' THEN 'Z' WHEN length(time_text) >= 25"
    " AND substr(time_text, length(time_text) - 5, 1) IN ('+', '-') THEN right(time_text, 6) ELSE '' END"
)
_FRACTION = (
    "CASE WHEN substr(time_text, 20, 1) IN ('.', ',')"
    f" THEN substr(time_text, 21, length(time_text) - 20 - length({_ZONE})) ELSE '' END"
)
_FAST_PARTS = (
    "struct_pack(year4 := substr(time_text, 1, 4), month := substr(time_text, 6, 2),"
    " day := substr(time_text, 9, 2), hour := substr(time_text, 12, 2), minute := substr(time_text, 15, 2),"
    f" second := substr(time_text, 18, 2), fraction := {_FRACTION}, utc_offset := {_ZONE})"
)


@dataclass
class JsonPlan:
    """The SQL plan for the `json` format (see the module docstring)."""

    zone: tzinfo
    # The conventional keys the file's first lines hold: only they are extracted; a line holding
    # another is left to the parser.
    keys: tuple[str, ...] = _KEYS
    # The key lists (in order) most of the first lines have: a line whose keys are one of them
    # holds no key twice, with no hashing of its keys (`list_distinct` is a third of the scan).
    usual_keys: tuple[tuple[str, ...], ...] = ()
    name: str = "json"

    def level_table(self, texts: list[str]) -> pa.Table:
        return arrow_table(self.level_columns(texts))

    def level_columns(self, texts: list[str]) -> LevelColumns:
        """Level text (strings as written, numbers as `#<n>`) -> normalized level, for the texts
        the normalizer reads (others are not `ok`)."""
        names = {
            spelling for name in (*_NAMES, *texts) for spelling in (name, name.upper(), name.capitalize())
        }
        rows = {text: normalize_level(text) for text in names}
        rows.update({f"#{number}": level for number, level in _NUMERIC.items()})
        kept = {text: level for text, level in rows.items() if level is not None}
        return {"text": list(kept), "level": list(kept.values()), "exact": [True] * len(kept)}

    def select_sql(self, lines: str, levels: str) -> str:
        """Rows (key, ts_us, level, message, host, fields, raw, ok) for every line of `lines`."""
        index_of = {key: index for index, key in enumerate(self.keys)}
        paths = ", ".join(sql_literal(f'$."{key}"') for key in self.keys)
        # A conventional key the first lines did not use (`"key":` anywhere: at worst a string
        # value, and the line is left to the parser): one DFA pass with the doubtful texts.
        others = [re.escape(json.dumps(key)) for key in _KEYS if key not in index_of]
        doubtful = _DOUBTFUL + (f"|(?:{'|'.join(others)})[ \t\n\r]*:" if others else "")
        valid = (
            f"left(line, 1) = '{{' AND json_valid(line) AND NOT regexp_matches(line, {sql_literal(doubtful)})"
        )
        # One parse per list: each key's JSON type (NULL: absent) and its text.
        s1 = f"SELECT key, line, {valid} AS valid FROM ({lines}) lines"
        lists = ["CASE WHEN valid THEN json_keys(line) END AS keys"]
        if self.keys:
            lists.append(f"CASE WHEN valid THEN json_type(line, [{paths}]) END AS types")
            lists.append(f"CASE WHEN valid THEN json_extract_string(line, [{paths}]) END AS texts")
        s2 = f"SELECT key, line, valid, {', '.join(lists)} FROM ({s1}) s1"
        items = "".join(
            f", types[{index + 1}] AS y{index}, texts[{index + 1}] AS k{index}"
            for index in range(len(self.keys))
        )
        s3 = f"SELECT key, line, valid, keys{items} FROM ({s2}) s2"
        time_key, time_kind, time_text = _first_present(TIME_KEYS, index_of)
        level_key, _, _ = _first_present(LEVEL_KEYS, index_of)
        level_text = _level_text(LEVEL_KEYS, index_of)
        message, message_key = _first_string(MESSAGE_KEYS, index_of)
        host, host_key = _first_string(HOST_KEYS, index_of)
        s4 = (
            f"SELECT key, line, valid, keys, {time_key} AS time_key, {time_kind} AS time_kind,"
            f" {time_text} AS time_text, {level_key} AS level_key, {level_text} AS level_text,"
            f" {message} AS message, {message_key} AS message_key, nullif({host}, '') AS host,"
            f" {host_key} AS host_key FROM ({s3}) s3"
        )
        ts_us, stages = self._time_stages()
        staged = f"({s4}) s4"
        for number, columns in enumerate(stages):
            items = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
            staged = f"(SELECT *, {items} FROM {staged}) t{number + 5}"
        removed = ", ".join(
            f"CASE WHEN {name} IS NOT NULL THEN '\"' || {name} || '\":null' END"
            for name in ("time_key", "level_key", "message_key", "host_key")
        )
        fields = (
            "CASE WHEN valid THEN nullif(CAST(json_merge_patch(line,"
            f" '{{' || concat_ws(',', {removed}) || '}}') AS VARCHAR), '{{}}') END"
        )
        distinct = "len(keys) = len(list_distinct(keys))"
        if self.usual_keys:
            usual = " OR ".join(f"keys = {_list_literal(keys)}" for keys in self.usual_keys)
            distinct = f"CASE WHEN {usual} THEN true ELSE {distinct} END"
        ts_ok = "(time_key IS NULL OR ts_us IS NOT NULL)"
        ok = f"valid AND {ts_ok} AND (level_key IS NULL OR lv.level IS NOT NULL) AND {distinct}"
        return (
            "SELECT key, ts_us, lv.level AS level,"
            " rtrim(coalesce(message, ''), chr(13) || chr(10)) AS message,"
            f" host, {fields} AS fields, line AS raw, coalesce({ok}, false) AS ok"
            f" FROM (SELECT *, {ts_us} AS ts_us FROM {staged}) s"
            f" LEFT JOIN {levels} lv ON lv.text = s.level_text"
        )

    def _time_stages(self) -> tuple[str, list[dict[str, str]]]:
        """The time in µs (NULL where the SQL does not read it as `parse_time_value` does) and the
        stages of columns it reads: the ISO parts (`t0`), their texts, their numbers."""
        texts, numbers, iso_value = _ISO.columns(0, fixed_offset(self.zone), None) or ({}, {}, "NULL")
        iso = sql_literal(_ISO.regex)
        digit_start = "regexp_matches(time_text, '^[0-9]')"
        # The commonest shape, `2026-11-20T10:00:00.123Z`, read by DuckDB's strptime in one call
        # (`tn`), as the ISO plan reads it (calendar checks alike; year 0000, which strptime reads
        # and the plan refuses, is left to the plan): the parts and their arithmetic cost a
        # quarter of the scan. Where `tn` is not NULL the plan gets no parts and computes nothing.
        native = (
            f"CASE WHEN time_kind = 'VARCHAR' AND regexp_full_match(time_text, {sql_literal(_UTC_MS)})"
            " AND NOT starts_with(time_text, '0000')"
            f" THEN epoch_us(try_strptime(time_text, {sql_literal(_UTC_MS_FORMAT)})) END"
        )
        parts = (
            f"CASE WHEN tn IS NOT NULL THEN NULL"
            f" WHEN regexp_full_match(time_text, {sql_literal(_FAST_ISO)}) THEN {_FAST_PARTS}"
            f" WHEN regexp_full_match(time_text, {iso})"
            f" THEN regexp_extract(time_text, {iso}, {_group_list(_ISO.regex)}) END"
        )
        number = "regexp_full_match(time_text, '[0-9]{1,15}(\\.[0-9]+)?')"
        epoch = _epoch_sql("time_text")
        ts_us = (
            "CASE WHEN time_kind IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
            f" OR (time_kind = 'VARCHAR' AND {digit_start})"
            f" THEN CASE WHEN {number} THEN {epoch}"
            f" WHEN time_kind = 'VARCHAR' THEN coalesce(tn, {iso_value}) END END"
        )
        return ts_us, [{"tn": native}, {"t0": parts}, texts, numbers]


def _first_present(keys: tuple[str, ...], index_of: dict[str, int]) -> tuple[str, str, str]:
    """The first of `keys` present (any value, null included): its name, JSON type and text."""
    names, kinds, texts = [], [], []
    for key in keys:
        if key in index_of:
            index = index_of[key]
            names.append(f"WHEN y{index} IS NOT NULL THEN {sql_literal(key)}")
            kinds.append(f"WHEN y{index} IS NOT NULL THEN y{index}")
            texts.append(f"WHEN y{index} IS NOT NULL THEN k{index}")
    return _case(names), _case(kinds), _case(texts)


def _level_text(keys: tuple[str, ...], index_of: dict[str, int]) -> str:
    """The level table's key for the first level key present: its text, or `#<n>` for an integer."""
    cases = []
    for key in keys:
        if key in index_of:
            index = index_of[key]
            cases.append(
                f"WHEN y{index} IS NOT NULL THEN CASE WHEN y{index} = 'VARCHAR' THEN k{index}"
                f" WHEN y{index} IN ('BIGINT', 'UBIGINT') THEN '#' || k{index} END"
            )
    return _case(cases)


def _first_string(keys: tuple[str, ...], index_of: dict[str, int]) -> tuple[str, str]:
    """The first of `keys` holding a string (take_string): its value and its name."""
    values, names = [], []
    for key in keys:
        if key in index_of:
            index = index_of[key]
            values.append(f"WHEN y{index} = 'VARCHAR' THEN k{index}")
            names.append(f"WHEN y{index} = 'VARCHAR' THEN {sql_literal(key)}")
    return _case(values), _case(names)


def _list_literal(items: tuple[str, ...]) -> str:
    return f"[{', '.join(sql_literal(item) for item in items)}]::VARCHAR[]"


def _case(cases: list[str]) -> str:
    return f"CASE {' '.join(cases)} END" if cases else "CAST(NULL AS VARCHAR)"


def _group_list(regex: str) -> str:
    import re

    return "[" + ", ".join(sql_literal(name) for name in re.compile(regex).groupindex) + "]"


def json_plan_for(parser: object, zone: tzinfo, head: list[dict]) -> JsonPlan | str:
    """The SQL plan for the generic `json` format, or why there is none; `head` holds the objects
    of the file's first lines (the conventional keys they use are the ones extracted)."""
    from logscope.parsing.jsonlines import JsonLinesParser

    if type(parser) is not JsonLinesParser:
        return f"{getattr(parser, 'name', parser)}: not the generic JSON lines format"
    from collections import Counter

    seen = {key for obj in head for key in obj}
    # A dict's keys are distinct: a line whose JSON keys equal them has no duplicate key.
    usual = tuple(keys for keys, _ in Counter(tuple(obj) for obj in head).most_common(_USUAL_KEY_LISTS))
    zone = getattr(parser, "zone", None) or zone
    return JsonPlan(zone, tuple(key for key in _KEYS if key in seen), usual)


_USUAL_KEY_LISTS = 3
