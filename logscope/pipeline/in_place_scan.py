"""The SQL that reads one log file where it lies: DuckDB scans its lines, the format's plan parses them.

The lines come from `read_csv` with one VARCHAR column and a delimiter and quote that never
split a line (`scan_ok` checks the file first), read in parallel by DuckDB. The format's
vectorized plan (parsing/vectorized/plans.py, the one the bulk import runs) turns them into the columns of
`logs`: its RE2 patterns run as DuckDB `regexp_extract`, the rest is the plan's own SQL. Where
the plan says a line is not provably read as the streaming parser reads it (`ok` false), a Python
function runs that parser on the line, so every row equals what `ingest` stores.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from logscope.parsing.pattern_text import scanned_groups
from logscope.parsing.vectorized.plans import RegexPlan
from logscope.parsing.vectorized.re2 import re2_matches_empty, sql_literal
from logscope.pipeline.scan_check import DELIMITER, SCAN_BLOCK, plain_refused
from logscope.pipeline.scan_check import refused as _refused
from logscope.record import MAX_LINE_BYTES
from logscope.sources.compressed import CompressedReader

if TYPE_CHECKING:  # pyarrow: imported where the fallback parser runs (a file whose lines all
    # pass the plan's checks needs none)
    import duckdb

FALLBACK_TYPE = (
    "STRUCT(format VARCHAR, ts_us BIGINT, level VARCHAR, message VARCHAR, host VARCHAR, fields VARCHAR)"
)
# The first lines whose level texts the level table holds (the first block holds ~6,600 nginx
# lines: reading them all with the format's pattern took 10-27 ms, a thousand 2 ms). A text rarer
# than that sends few lines to the fallback parser.
LEVEL_LINES = 1024
# Level texts tried besides those in the file's first lines (the parser maps each itself).
_LEVEL_WORDS = [
    "trace",
    "debug",
    "info",
    "information",
    "informational",
    "notice",
    "warn",
    "warning",
    "error",
    "err",
    "crit",
    "critical",
    "fatal",
    "alert",
    "emerg",
    "emergency",
    "panic",
    "severe",
    "fine",
    "finer",
    "finest",
    "config",
    "verbose",
    "dbg",
    "inf",
    "wrn",
    "eror",
]
_LEVEL_GUESSES = [
    *(spelling for word in _LEVEL_WORDS for spelling in (word, word.upper(), word.capitalize())),
    *"TDIWEFNCA",
    *(str(number) for number in range(0, 600)),
]


def scan_ok(path: str, compressed: bool, block_bytes: int = SCAN_BLOCK) -> str | None:
    """Why DuckDB's CSV reader would not split the file into the lines our reader gives, or None
    (pipeline/scan_check.py `refused`)."""
    if not compressed:
        return plain_refused(path, block_bytes)
    with open(path, "rb") as raw:
        unzipped = CompressedReader(raw, path)
        refused = _refused(iter(lambda: unzipped.read(block_bytes), b""))
        # DuckDB fails on a damaged gzip file: our reader keeps what precedes the damage.
        return refused or ("it is damaged" if unzipped.damage else None)


def read_lines_sql(path: str, compressed: bool, skip: int) -> str:
    """`read_csv` giving each line of `path` after the first `skip` as `line` (never NULL)."""
    options = ", ".join(
        (
            "columns={'line': 'VARCHAR'}",
            "header=false",
            "auto_detect=false",
            f"delim={sql_literal(DELIMITER)}",
            "quote=''",
            "escape=''",
            "new_line='\\n'",
            "strict_mode=false",
            f"skip={int(skip)}",
            f"max_line_size={MAX_LINE_BYTES}",
            f"compression={'gzip' if compressed else 'none'}",
        )
    )
    return f"SELECT coalesce(line, '') AS line FROM read_csv({sql_literal(path)}, {options})"


def _struct_names(regex: str) -> list[str]:
    """The capture groups of an RE2 pattern, in order (as `regexp_extract` numbers them): read
    from its text where that is plain and every group is named (all of logscope's), else as
    pyarrow's `extract_regex` (RE2 too) names them."""
    names = scanned_groups(regex, unnamed=False)
    if names is not None:
        return list(names)
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = pc.extract_regex(pa.array([""], pa.string()), regex).type
    return [kind.field(index).name for index in range(kind.num_fields)]


def block_sql(plan: RegexPlan, lines: str, carry: tuple[str, ...] = ()) -> str:
    """The columns `plan.prepare` makes with pyarrow, computed by DuckDB over `lines` (line, key,
    and the `carry` columns, passed through)."""
    raw = ["line", "key", *carry]
    picked = ["line", "key", *carry]
    first_chars = plan.parser.first_chars
    if first_chars is not None:
        chars = ", ".join(sql_literal(char) for char in sorted(first_chars))
        raw.append(f"substring(line, 1, 1) IN ({chars}) AS first_ok")
        picked.append("first_ok")
    for index, (pattern, guard) in enumerate(zip(plan.patterns, plan.guards, strict=True)):
        extract, pick = _extract(pattern, "line", f"m{index}")
        raw.append(f"{extract} AS m{index}")
        picked.append(f"{pick} AS p{index}")
        if guard is not None:
            picked.append(f"regexp_matches(line, {sql_literal(guard)}) AS g{index}")
    sql = f"SELECT {', '.join(picked)} FROM (SELECT {', '.join(raw)} FROM ({lines}) lines) m"
    time_field = plan.parser.definition.time_field
    if not plan.time_plans or time_field is None:
        return sql
    time_text = plan.group_sql(time_field)
    extracts, picks = [], []
    for index, time in enumerate(plan.time_plans):
        extract, pick = _extract(time.regex, "__tt", f"n{index}")
        extracts.append(f"{extract} AS n{index}")
        picks.append(f"{pick} AS t{index}")
    with_text = f"SELECT *, {time_text} AS __tt FROM ({sql}) s0"
    return f"SELECT *, {', '.join(picks)} FROM (SELECT *, {', '.join(extracts)} FROM ({with_text}) s1) s2"


def _extract(regex: str, text: str, column: str) -> tuple[str, str]:
    """What `pyarrow.compute.extract_regex` gives, in DuckDB, in two steps: the raw extract (named
    `column`), then the groups' struct from it, NULL without a match. A regex that cannot match
    empty text runs once: its whole match, captured as `__all`, is empty only without a match."""
    names = _struct_names(regex)
    literal = sql_literal(regex)
    if not names or _may_match_empty(regex) or not regex.startswith("^"):
        matched = f"regexp_matches({text}, {literal})"
        if not names:
            return matched, f"CASE WHEN {column} THEN {{'__all': ''}} END"
        name_list = "[" + ", ".join(sql_literal(name) for name in names) + "]"
        extract = f"CASE WHEN {matched} THEN regexp_extract({text}, {literal}, {name_list}) END"
        return extract, column
    whole = sql_literal(f"^(?P<__all>{regex[1:]})")
    name_list = "[" + ", ".join(sql_literal(name) for name in ["__all", *names]) + "]"
    return (
        f"regexp_extract({text}, {whole}, {name_list})",
        f"CASE WHEN {column}.__all <> '' THEN {column} END",
    )


def _may_match_empty(regex: str) -> bool:
    return re2_matches_empty(regex)


def level_texts(con: duckdb.DuckDBPyConnection, head_lines: list[str], plan: RegexPlan) -> list[str]:
    """The level texts the level table is made for: those of the first LEVEL_LINES lines and
    common spellings. The first lines' are read with the format's Python patterns: where RE2
    would read a line otherwise, that line is not `ok` whatever its text (a text missing here only
    sends lines to the fallback parser), so no Arrow table of the lines is made (`con`: unused)."""
    del con
    texts = set(_LEVEL_GUESSES) | set(plan.parser.definition.level_map) | {""}
    field_name = plan.parser.definition.level_field
    if field_name is None:
        return sorted(texts)
    patterns = plan.parser.patterns
    for line in head_lines[:LEVEL_LINES]:
        for pattern in patterns:
            match = pattern.match(line)
            if match is not None:
                text = match.groupdict().get(field_name)
                texts.add(text or "")
                break
    return sorted(texts)


def create_fallback(
    con: duckdb.DuckDBPyConnection, name: str, parse_line: Callable[[str], tuple[str, tuple | None]]
) -> None:
    """Register `fallback_function(parse_line)` in `con` as `name`.

    DuckDB imports numpy for any Python function, and numpy's OpenBLAS then starts a thread per
    core that spins after the import: 0.04 s more for the import and up to 0.05 CPU-s beside the
    scan, for linear algebra nothing here does (docs/benchmarks.md). So one BLAS thread, unless
    the environment says otherwise (read when numpy is first imported). A process that keeps
    numpy out (`query SQL FILE`, lean_arrow.py) gives DuckDB a stand-in instead: no import."""
    from logscope.lean_arrow import numpy_kept_out, numpy_stand_in

    if numpy_kept_out():
        registering = numpy_stand_in()
    else:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        registering = contextlib.nullcontext()
    with registering:
        con.create_function(name, fallback_function(parse_line), ["VARCHAR"], FALLBACK_TYPE, type="arrow")


def fallback_function(parse_line: Callable[[str], tuple[str, tuple | None]]) -> Callable:
    """A vectorized DuckDB function: per line, what the streaming parser makes of it."""

    # No annotations: DuckDB evaluates them, and pyarrow is imported only when this runs.
    def parse_lines(lines):
        import pyarrow as pa

        formats, ts, levels, messages, hosts, fields = [], [], [], [], [], []
        for line in lines.to_pylist():
            name, parsed = parse_line(line)
            formats.append(name)
            if parsed is None:
                ts.append(None)
                levels.append(None)
                messages.append(line)
                hosts.append(None)
                fields.append(None)
                continue
            ts.append(parsed[0])
            levels.append(parsed[1])
            messages.append(parsed[2])
            hosts.append(parsed[4] or None)
            fields.append(_dump(parsed[3]))
        return pa.StructArray.from_arrays(
            [
                pa.array(formats, pa.string()),
                pa.array(ts, pa.int64()),
                pa.array(levels, pa.string()),
                pa.array(messages, pa.string()),
                pa.array(hosts, pa.string()),
                pa.array(fields, pa.string()),
            ],
            names=["format", "ts_us", "level", "message", "host", "fields"],
        )

    return parse_lines


def _dump(fields: dict | None) -> str | None:
    import orjson

    if not fields:
        return None
    return orjson.dumps(fields, default=str).decode()


def typed_columns(plan: RegexPlan) -> dict[str, str]:
    """Field name -> the plan's column holding its typed value (`v<index>`)."""
    return {name: f"v{index}" for index, name in enumerate(plan.parser.definition.field_names())}
