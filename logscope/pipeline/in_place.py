"""`logscope query SQL FILE…`: SQL over log files where they lie, with no import (docs/query.md).

Each file is exposed through the tables of the store: `logs` and one typed view per format
(`nginx_access`, …), with the rows `ingest` would store, in the same order and with the same ids.
Its first lines go through the streaming `SourceParser`, which detects the format as ingest does.
When the format has a vectorized plan and DuckDB's CSV reader splits the file into the same lines
(pipeline/in_place_scan.py), the rest of the file is a query DuckDB runs in parallel over the raw lines;
otherwise (JSON lines, multiline and code formats, stdin) our parser reads the file in blocks into
an in-memory table. Then the connection is locked: the user's SQL can read only those files.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from logscope.errors import LogscopeError
from logscope.parsing.base import Parser
from logscope.parsing.registry import FormatRegistry
from logscope.parsing.source_parser import SAMPLE_LINES, SourceParser
from logscope.parsing.vectorized.re2 import asked_in, sql_literal, sql_name
from logscope.pipeline.in_place_rows import create_records_table, insert_records
from logscope.pipeline.scan_check import CHILD_BYTES, PlainChecks
from logscope.record import LineBatch, Record, now_us
from logscope.sources.compressed import open_log
from logscope.sources.lines import LineSplitter
from logscope.sources.readers import FileReader, StdinReader
from logscope.sources.spec import expand_sources
from logscope.store.database import MEMORY, connect
from logscope.store.sql_text import from_microseconds
from logscope.store.views import COMMON_COLUMNS, _field_column

if TYPE_CHECKING:  # the plans (and pyarrow, which they import) only for a file DuckDB scans
    from logscope.parsing.vectorized.json_plan import JsonPlan
    from logscope.parsing.vectorized.plans import RegexPlan
    from logscope.parsing.vectorized.syslog_plan import SyslogPlan

HEAD_BYTES = 1 << 20
READ_BYTES = 8 << 20
_ROW_COLUMNS = ("ts", "received_at", "source", "host", "format", "level", "message", "fields", "raw")


@dataclass
class InPlaceFile:
    """One file's rows: `relation` is SQL giving key, the logs columns (fields as JSON) and, for a
    scanned file, `ok` and the plan's typed values."""

    source: str
    index: int
    relation: str = ""
    records: int = 0
    plan: RegexPlan | JsonPlan | SyslogPlan | None = None
    how: str = ""  # "scanned by DuckDB (nginx_access)" or why our parser reads it
    paths: list[str] = field(default_factory=list)
    typed: dict[str, dict[str, str]] = field(default_factory=dict)  # format -> field -> column


class InPlaceQuery:
    """Builds a locked DuckDB connection whose `logs` and format views are the files named."""

    def __init__(
        self,
        arguments: list[str],
        registry: FormatRegistry,
        forced: Parser | None = None,
        head_bytes: int = HEAD_BYTES,
        child_bytes: int = CHILD_BYTES,
        checks: PlainChecks | None = None,
    ) -> None:
        self.arguments = arguments
        self.head_bytes = head_bytes  # the first block, detected by our parser (tests make it small)
        self.child_bytes = child_bytes  # plain files this big are checked by a child (scan_check.py)
        self.early = checks  # the caller's, started before DuckDB was imported (commands/query.py)
        self.registry = registry
        self.forced = forced
        self.received_at = now_us()
        self.files: list[InPlaceFile] = []
        self.with_ids = True
        self.read_by_parser: set[int] = set()  # files to read with our parser (after a ScanRetry)
        self.skipped: list[str] = []  # paths a directory or glob holds that are not read
        self.damage: list[str] = []  # damaged gzip files: one line each (read up to the damage)

    def connect(self, sql: str | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
        """The locked connection; with `sql`, only the format views it names are made, and `logs`
        unless it names format views and not `logs` (binding a view over a scanned file costs
        time; without `sql`, every view)."""
        self.with_ids = sql is None or mentions_ids(sql)
        expansion = expand_sources(self.arguments)
        if expansion.errors:
            raise LogscopeError("; ".join(expansion.errors))
        self.skipped = expansion.skipped
        con = connect(MEMORY, external_access=True)
        if memory_limit:
            con.execute(f"SET memory_limit = {sql_literal(memory_limit)}")
        paths = [source.name for source in expansion.sources if isinstance(source, FileReader)]
        early = self.early.in_child if self.early is not None else []
        # The early checks' files were opened for their gzip magic already: plain ones.
        compressed = {path: path not in early and _compressed(path) for path in paths}
        plain = [path for path in compressed if not compressed[path] and path not in early]
        checks = PlainChecks(plain, self.child_bytes)
        # (RE2's questions, planning, go to this connection: no database of their own)
        with closing(checks), asked_in(con):
            for index, source in enumerate(expansion.sources):
                last = index == len(expansion.sources) - 1
                if isinstance(source, FileReader):
                    checker = self.early if source.name in early else checks
                    file = self._file(con, source.name, index, last, compressed[source.name], checker)
                    self.files.append(file)
                elif isinstance(source, StdinReader):
                    self.files.append(self._python(con, InPlaceFile("stdin", index), None, "standard input"))
                else:
                    raise LogscopeError(f"{source.name}: only files and - can be queried in place")
        self._views(con, sql)
        # The plans join each line to the small level table; DuckDB's estimate of a CSV scan is
        # low, so it would build its hash table on the lines: all of them held (760 MB for 1 M
        # nginx lines instead of 270 MB, and half the speed; docs/benchmarks.md).
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        allowed = sorted({path for file in self.files for path in file.paths})
        con.execute(f"SET allowed_paths = [{', '.join(sql_literal(path) for path in allowed)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    # --- one file --------------------------------------------------------------------------

    def _file(
        self, con, path: str, index: int, last: bool, compressed: bool, checks: PlainChecks
    ) -> InPlaceFile:
        file = InPlaceFile(path, index)
        head, more = _head_lines(path, self.head_bytes)
        parser = SourceParser(self.registry, self.forced)
        sampled = head[:SAMPLE_LINES]
        records = parser.parse_batch(LineBatch(path, sampled, self.received_at))
        reason = self._scan_refused(parser, records, head, more)
        if index in self.read_by_parser:
            reason = "a line in a multiline or header-driven format"
        if isinstance(reason, str):
            return self._python(con, file, path, reason)
        plan = reason
        if not last:  # only the files after it need its line count (their ids follow its)
            file.records = _count_lines(path)
        self._scan(con, file, parser, plan, records, head, path, compressed)
        from logscope.pipeline.in_place_scan import scan_ok

        # Asked last: a big plain file is checked by a child process meanwhile (scan_check.py).
        refused = scan_ok(path, compressed) if compressed else checks.answer(path)
        if refused:
            reason = f"DuckDB would split it otherwise: {refused}"
            return self._python(con, InPlaceFile(path, index), path, reason)
        return file

    def _scan_refused(self, parser, records, head, more) -> RegexPlan | JsonPlan | SyslogPlan | str:
        """The plan to scan the file with, or why our parser reads it."""
        if not more:
            return "small"
        if not parser.order:
            return "no formats"
        # A stateful format that took a first line, or is tried first: its records span lines.
        # One tried later takes only lines the scan's format refuses: those go to our parser
        # line by line (`_per_line`), which asks for a retry if a stateful format takes one.
        by_name = {candidate.name: candidate for candidate in parser.order}
        for name in [parser.order[0].name, *sorted({record.format for record in records})]:
            candidate = by_name.get(name)
            if candidate is not None and _holds_state(candidate):
                return f"{candidate.name} is multiline or header-driven"
        from logscope.parsing.vectorized.json_plan import json_plan_for
        from logscope.parsing.vectorized.plans import plan_for
        from logscope.parsing.vectorized.syslog_plan import syslog_plan_for

        first = parser.order[0]
        clock = getattr(first, "clock", None)
        zone = getattr(first, "zone", None) or _utc()
        plan: RegexPlan | JsonPlan | SyslogPlan | str = json_plan_for(first, zone, _json_objects(head))
        if isinstance(plan, str):
            plan = syslog_plan_for(first, zone)
        if isinstance(plan, str):
            plan = plan_for(first, zone, clock() if clock else None)
        return plan

    def _scan(self, con, file, parser, plan, head_records, head, path, compressed) -> None:
        from logscope.pipeline.in_place_chain import build_chain, chain_plans
        from logscope.pipeline.in_place_scan import create_fallback, read_lines_sql

        tag = file.index
        file.paths = [path]
        head_name, function = f"_inplace_head_{tag}", f"_inplace_parse_{tag}"
        create_records_table(con, head_name, "VARCHAR")
        insert_records(con, head_name, list(enumerate(head_records)))
        create_fallback(con, function, _per_line(parser, file.index))
        skip = len(head_records)
        # Counting lines (a window, in the scan's order) serializes the scan: only done when the
        # SQL may read `id`.
        key = f"row_number() OVER () - 1 + {skip}" if self.with_ids else "CAST(NULL AS BIGINT)"
        lines = f"SELECT line, {key} AS key FROM ({read_lines_sql(path, compressed, skip)}) scan"
        chain = chain_plans(parser.order, plan, _regex_plan, _holds_state)
        build_chain(con, chain, lines, head, _json_level_texts(head_records), tag)
        file.how = f"scanned by DuckDB ({chain.names})"
        file.plan = chain.plans[0]
        file.typed = chain.typed
        typed_list = [column for columns in chain.typed.values() for column in columns.values()]
        select = chain.select
        received = from_microseconds(self.received_at)
        fb = "CASE WHEN ok THEN {plan} ELSE fb.{name} END"
        scanned = (
            f"SELECT key,"
            f" coalesce({from_microseconds(fb.format(plan='ts_us', name='ts_us'))},"
            f" {received}) AS ts,"
            f" {received} AS received_at, {sql_literal(file.source)} AS source,"
            f" {fb.format(plan='host', name='host')} AS host,"
            f" {fb.format(plan='fmt', name='format')} AS format,"
            f" {fb.format(plan='level', name='level')} AS level,"
            f" {fb.format(plan='message', name='message')} AS message,"
            f" CAST({fb.format(plan='fields', name='fields')} AS JSON) AS fields, raw, ok,"
            # The view's typed columns read a field from `fb_fields` where not `ok`: reading
            # `fields` would build every row's JSON for one value (docs/benchmarks.md).
            " CAST(fb.fields AS JSON) AS fb_fields"
            f"{''.join(', ' + column for column in typed_list)}"
            f" FROM (SELECT *, CASE WHEN NOT ok THEN {function}(raw) END AS fb FROM ({select}) planned) rows"
        )
        nulls = "".join(f", NULL AS {column}" for column in typed_list)
        head_rows = (
            f"SELECT key, {', '.join(_ROW_COLUMNS[:-2])}, CAST(fields AS JSON) AS fields, raw,"
            f" false AS ok, CAST(fields AS JSON) AS fb_fields{nulls} FROM {head_name}"
        )
        file.relation = f"{head_rows} UNION ALL {scanned}"

    def _python(self, con, file: InPlaceFile, path: str | None, reason: str) -> InPlaceFile:
        """Our parser reads the whole file, block by block, into an in-memory table."""
        file.how = f"read by our parser ({reason})"
        table = f"_inplace_file_{file.index}"
        create_records_table(con, table, "JSON")
        parser = SourceParser(self.registry, self.forced)
        for records in _parse_blocks(parser, file.source, path, self.received_at, self.damage):
            keyed = [(file.records + number, record) for number, record in enumerate(records)]
            file.records += len(records)
            insert_records(con, table, keyed)
        file.relation = f"SELECT *, false AS ok, fields AS fb_fields FROM {table}"
        return file

    # --- the tables the user sees -----------------------------------------------------------

    def _views(self, con: duckdb.DuckDBPyConnection, sql: str | None) -> None:
        bases, base = [], 0
        for file in self.files:
            bases.append(base)
            base += file.records
        parts = [
            f"SELECT key + {base + 1} AS id, {', '.join(_ROW_COLUMNS)} FROM ({file.relation}) f{file.index}"
            for file, base in zip(self.files, bases, strict=True)
        ]
        words = set(re.findall(r"\w+", sql.lower())) if sql is not None else None
        named = [name for name in self._format_names() if words is None or name in words]
        # `logs` unless the SQL names format views and not it (binding it costs ~8 ms).
        if words is None or "logs" in words or not named:
            union = " UNION ALL ".join(parts) if parts else _EMPTY
            con.execute(f"CREATE VIEW logs AS {union}")
        for name in named:
            con.execute(self._format_view(name, bases))

    def _format_names(self) -> list[str]:
        names = {parser.name for parser in self.registry.ordered}
        return sorted(name for name in names if name not in ("logs",))

    def _format_view(self, name: str, bases: list[int]) -> str:
        types = self.registry.field_types(name)
        parts = []
        for file, base in zip(self.files, bases, strict=True):
            columns = [f"key + {base + 1} AS id", *[c for c in COMMON_COLUMNS if c != "id"]]
            planned = file.typed.get(name, {})
            for field_name, column_type in types.items():
                column = _field_column(field_name, column_type.upper())
                if column is None:
                    continue
                if field_name in planned:
                    cast = f"CAST({planned[field_name]} AS {column_type})"
                    from_json = column.rsplit(" AS ", 1)[0].replace("(fields, ", "(fb_fields, ")
                    column = f"CASE WHEN ok THEN {cast} ELSE {from_json} END AS {sql_name(field_name)}"
                columns.append(column)
            columns += ["fields", "raw"]
            parts.append(
                f"SELECT {', '.join(columns)} FROM ({file.relation}) f{file.index}"
                f" WHERE format = {sql_literal(name)}"
            )
        if not parts:
            return f"CREATE VIEW {sql_name(name)} AS SELECT * FROM logs WHERE false"
        return f"CREATE VIEW {sql_name(name)} AS {' UNION ALL '.join(parts)}"


_EMPTY = (
    "SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS TIMESTAMPTZ) AS ts,"
    " CAST(NULL AS TIMESTAMPTZ) AS received_at,"
    " CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS host, CAST(NULL AS VARCHAR) AS format,"
    " CAST(NULL AS VARCHAR) AS level, CAST(NULL AS VARCHAR) AS message, CAST(NULL AS JSON) AS fields,"
    " CAST(NULL AS VARCHAR) AS raw WHERE false"
)


RETRY_MARK = "logscope-inplace-retry:"


def mentions_ids(sql: str) -> bool:
    """Whether `sql` may read `id`: it names it, or has a `*` other than `count(*)`'s."""
    return bool(re.search(r"\bid\b", sql, re.IGNORECASE) or re.search(r"(?<!\()\s*\*(?!\s*\))", sql))


class ScanRetry(Exception):
    """A line of a scanned file is in a multiline or header-driven format: reading it line by line
    would differ from ingest, so the query is run again with our parser reading that file."""


def retry_file(error: BaseException) -> int | None:
    """The file a DuckDB error asks to read with our parser (see ScanRetry), or None."""
    text = str(error)
    if RETRY_MARK not in text:
        return None
    digits = text.split(RETRY_MARK, 1)[1]
    number = "".join(char for char in digits[:12] if char.isdigit())
    return int(number) if number else None


def _json_objects(lines: list[str]) -> list[dict]:
    """The JSON objects among `lines` (the first lines of a file)."""
    import orjson

    objects = []
    for line in lines:
        if not line.lstrip().startswith("{"):
            continue  # not an object: skip orjson's error (its exception costs ~5 µs a line)
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            objects.append(obj)
    return objects


def _json_level_texts(records: list[Record]) -> list[str]:
    """The level values written in the first JSON lines (the level table covers them too)."""
    from logscope.parsing.conventions import LEVEL_KEYS

    objects = _json_objects([record.raw for record in records])
    return sorted({obj[key] for obj in objects for key in LEVEL_KEYS if isinstance(obj.get(key), str)})


def _regex_plan(candidate: Parser) -> RegexPlan | str:
    """The regex plan of a format tried after the first one (the chain, in_place_chain.py)."""
    from logscope.parsing.vectorized.plans import plan_for

    clock = getattr(candidate, "clock", None)
    return plan_for(candidate, getattr(candidate, "zone", None) or _utc(), clock() if clock else None)


def _holds_state(parser: Parser) -> bool:
    if getattr(parser, "continuation", None) is not None:
        return True
    return bool(getattr(parser, "stateful", False) or getattr(parser, "expands", False))


def _per_line(parser: SourceParser, index: int):
    """`parser.parse_line`, refusing lines a stateful format accepts (they need the whole file)."""
    by_name = {candidate.name: candidate for candidate in parser.order}

    def parse_line(line: str):
        name, parsed = parser.parse_line(line)
        candidate = by_name.get(name)
        if candidate is not None and _holds_state(candidate):
            raise ScanRetry(f"{RETRY_MARK}{index}")
        return name, parsed

    return parse_line


def _utc():
    from datetime import UTC

    return UTC


def _head_lines(path: str, head_bytes: int) -> tuple[list[str], bool]:
    """The file's first complete lines (a block, or more until they outnumber the sampled ones),
    and whether more of the file follows them."""
    from logscope.sources.compressed import read_blocks

    splitter = LineSplitter()
    lines: list[str] = []
    blocks = read_blocks(path, head_bytes)
    for data, _ in blocks:
        more, extras = splitter.feed(data)
        if extras is not None and any(extras):
            return lines, False  # a capped line: our reader's work
        lines += more
        if len(lines) > SAMPLE_LINES:
            return lines, next(blocks, None) is not None or splitter.pending_bytes > 0
    return lines, False


def _compressed(path: str) -> bool:
    raw, unzipped = open_log(path)
    raw.close()
    return unzipped is not None


def _count_lines(path: str) -> int:
    """Lines in the file as our reader splits it (a last line without its newline counts)."""
    from logscope.sources.compressed import read_blocks

    count, last = 0, b"\n"
    for block, _ in read_blocks(path, READ_BYTES):
        count += block.count(b"\n")
        last = block[-1:]
    return count + (last != b"\n")


def _parse_blocks(
    parser: SourceParser, source: str, path: str | None, received_at: int, damage: list[str]
) -> Iterator[list[Record]]:
    """The records of a file (stdin when `path` is None), a block at a time, as ingest makes them;
    a damaged gzip file's damage (one line) is appended to `damage` and its cut-off line dropped."""
    from logscope.sources.compressed import read_blocks

    splitter = LineSplitter()
    damaged_before = len(damage)
    if path is None:
        blocks = iter(lambda: sys.stdin.buffer.read(READ_BYTES), b"")
    else:
        blocks = (data for data, _ in read_blocks(path, READ_BYTES, damage=damage))
    for data in blocks:
        lines, extras = splitter.feed(data)
        if lines:
            yield parser.parse_batch(LineBatch(source, lines, received_at, None, extras))
    lines, extras = splitter.flush() if len(damage) == damaged_before else ([], None)
    yield parser.parse_batch(LineBatch(source, lines, received_at, None, extras, final=True))
