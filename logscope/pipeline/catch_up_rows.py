"""A typed filter over a file being imported, read in place without building every row's fields.

`status = 504` reaches SQL as `TRY_CAST(json_extract_string(fields, '$."status"') AS BIGINT) = 504`
(tui/predicate.py): over the in-place `logs` that builds the JSON of every row's fields, several
times the cost of the scan itself. Each format's view has the field as a typed column, so the lines
it keeps are found there, by their ids and raw text, and the lines of any other format (which the
views do not hold) are taken as they are. Those candidates are parsed by the streaming parser,
which is what the in-place engine and the import make of a line of a format that reads one line a
record, and the whole filter then runs over their records: the same rows as over `logs`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from logscope.parsing.source_parser import SourceParser

# A typed field in a filter, as tui/predicate.py writes it: the field's name and its type.
_TYPED_FIELD = re.compile(
    r"""TRY_CAST\(json_extract_string\(fields, '\$\."((?:[^"\\']|\\.|'')*)"'\) AS (\w+)\)"""
)
# Names the format views do not have, or that cost what is avoided here.
_NOT_IN_VIEWS = re.compile(r"\b(fields|format)\b", re.IGNORECASE)
HEAD_BYTES = 1 << 20
_COLUMNS = (
    "key AS id, ts, received_at, source, host, format, level, message, CAST(fields AS VARCHAR) AS fields, raw"
)


def detected(paths: list[str], registry, forced, received_at: int) -> dict[str, SourceParser]:
    """A streaming parser per file, its formats detected on the file's first lines as the
    in-place engine and the import detect them."""
    from logscope.parsing.source_parser import SAMPLE_LINES, SourceParser
    from logscope.record import LineBatch
    from logscope.sources.lines import LineSplitter

    parsers = {}
    for path in paths:
        with open(path, "rb") as handle:
            head, _ = LineSplitter().feed(handle.read(HEAD_BYTES))
        parser = SourceParser(registry, forced)
        parser.parse_batch(LineBatch(path, head[:SAMPLE_LINES], received_at))
        parsers[path] = parser
    return parsers


def by_views(where: str, typed: dict[str, set[str]]) -> dict[str, str] | None:
    """`where` for each format's view (typed fields as its columns), or None where a view cannot
    answer it (it reads `fields` or `format` otherwise)."""
    from logscope.parsing.vectorized.re2 import sql_name

    rewritten = {}
    for name, fields in typed.items():

        def column(match: re.Match, fields: set[str] = fields) -> str:
            field = match.group(1).replace("''", "'").replace('\\"', '"').replace("\\\\", "\\")
            return f"TRY_CAST({sql_name(field)} AS {match.group(2)})" if field in fields else match.group(0)

        sql = _TYPED_FIELD.sub(column, where)
        if _NOT_IN_VIEWS.search(sql):
            return None
        rewritten[name] = sql
    return rewritten or None


def candidates_sql(rewritten: dict[str, str], after_key: int) -> str:
    """The ids, sources and lines that may pass: those each view's filter keeps, and every line
    of a format without a view among them."""
    from logscope.parsing.vectorized.re2 import sql_literal, sql_name

    parts = [
        f"SELECT id, source, raw FROM {sql_name(name)} WHERE id > {after_key} AND ({where})"
        for name, where in rewritten.items()
    ]
    formats = ", ".join(sql_literal(name) for name in rewritten)
    parts.append(f"SELECT id, source, raw FROM logs WHERE id > {after_key} AND format NOT IN ({formats})")
    return " UNION ALL ".join(parts)


def kept_rows(
    con: duckdb.DuckDBPyConnection,
    candidates: pa.Table,
    parsers: dict[str, SourceParser],
    received_at: int,
    where: str,
    params: list,
) -> pa.Table:
    """The candidates' records (each line parsed as the import parses it) that `where` keeps."""
    from logscope.record import LineBatch
    from logscope.store.bulk import records_table

    keyed = []
    ids, sources, lines = (candidates.column(name).to_pylist() for name in ("id", "source", "raw"))
    for source, parser in parsers.items():
        mine = [index for index, name in enumerate(sources) if name == source]
        batch = LineBatch(source, [lines[index] for index in mine], received_at, final=True)
        records = parser.parse_batch(batch)
        keyed += [(ids[index], record) for index, record in zip(mine, records, strict=True)]
    con.register("_catch_up_candidates", records_table(keyed))
    try:
        rows = f"SELECT {_COLUMNS} FROM _catch_up_candidates"
        return con.execute(f"SELECT * FROM ({rows}) logs WHERE {where} ORDER BY id", params).to_arrow_table()
    finally:
        con.unregister("_catch_up_candidates")
