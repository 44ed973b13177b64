"""The one place that decides how result rows are printed: table, csv, tsv, json, jsonl, markdown."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

import orjson

FORMATS = ("table", "csv", "tsv", "json", "jsonl", "markdown")

Row = Sequence[Any]


def default_format(is_terminal: bool) -> str:
    """A table for people; tab-separated values (with a header) when piped."""
    return "table" if is_terminal else "tsv"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, default=_jsonable).decode()
    return str(value)


def _json_values(columns: Sequence[str], rows: Iterable[Row], json_columns: set[int]) -> Iterator[bytes]:
    for row in rows:
        values = {}
        for index, (name, value) in enumerate(zip(columns, row, strict=False)):
            if index in json_columns and isinstance(value, str):
                with contextlib.suppress(orjson.JSONDecodeError):
                    value = orjson.loads(value)
            values[name] = value
        yield orjson.dumps(values, default=_jsonable, option=orjson.OPT_NON_STR_KEYS)


def write_rows(
    out: TextIO,
    fmt: str,
    columns: Sequence[str],
    rows: Iterable[Row],
    json_columns: set[int] | None = None,
) -> int:
    """Write rows in `fmt`; `json_columns` are indexes of columns holding JSON text. Returns rows."""
    json_columns = json_columns or set()
    count = 0
    if fmt in ("csv", "tsv"):
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_text(value) for value in row])
            count += 1
    elif fmt == "jsonl":
        for line in _json_values(columns, rows, json_columns):
            out.write(line.decode())
            out.write("\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for line in _json_values(columns, rows, json_columns):
            out.write(",\n " if count else "\n ")
            out.write(line.decode())
            count += 1
        out.write("\n]\n" if count else "]\n")
    elif fmt == "markdown":
        out.write("| " + " | ".join(columns) + " |\n")
        out.write("|" + "|".join("---" for _ in columns) + "|\n")
        for row in rows:
            cells = (_text(value).replace("|", "\\|").replace("\n", " ") for value in row)
            out.write("| " + " | ".join(cells) + " |\n")
            count += 1
    elif fmt == "table":
        count = _write_table(out, columns, rows)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return count


def _write_table(out: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, header_style="bold", show_lines=False)
    count = 0
    for row in rows:
        table.add_row(*(Text(_text(value)) for value in row))
        count += 1
    Console(file=out, soft_wrap=False, highlight=False).print(table)
    return count
