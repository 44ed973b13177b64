"""The one place that decides how result rows are printed, and the flags that choose the format.

Every verb that prints rows takes the same flags (`--table --csv --tsv --json --nl --markdown`,
as sqlite-utils does); without one, a table on a terminal and tab-separated values otherwise.
Times are RFC 3339 with milliseconds and `Z` for UTC in every format. This module imports
nothing heavy: it is loaded for `--help`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import decimal
import itertools
import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

import orjson

from logscope.text import plural as plural  # re-exported: the verbs import it from here
from logscope.text import render_time

FORMATS = ("table", "csv", "tsv", "json", "jsonl", "markdown")
# The flag that chooses each format; `--jsonl` is accepted as another spelling of `--nl`.
FLAGS = {
    "table": "--table",
    "csv": "--csv",
    "tsv": "--tsv",
    "json": "--json",
    "jsonl": "--nl",
    "markdown": "--markdown",
}
FLAG_HELP = {
    "table": "a table (the default on a terminal)",
    "csv": "comma-separated values with a header row",
    "tsv": "tab-separated values with a header row (the default when piped)",
    "json": "one JSON array of objects",
    "jsonl": "one JSON object per line (newline-delimited JSON; also --jsonl)",
    "markdown": "a Markdown pipe table",
}
# Rich measures and draws a table for a terminal; elsewhere it gets room for every cell whole.
UNLIMITED_WIDTH = 1_000_000
# Rich measures every cell of a table before drawing it, so a table holds all its rows in memory
# (a million rows: minutes and gigabytes): it shows at most this many, and says so.
TABLE_MAX_ROWS = 1000

Row = Sequence[Any]


# --- choosing the format ---------------------------------------------------------------------


class _DeprecatedFormat(argparse.Action):
    """An old spelling (`query --format csv`, `--output csv`): works, with a one-line note."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        instead = f"use {FLAGS[values]}" if values in FLAGS else "leave it out (it is the default)"
        print(f"logscope: warning: {option_string} {values} is deprecated; {instead}", file=sys.stderr)
        setattr(namespace, self.dest, values if values in FLAGS else None)


def add_output_options(
    parser: argparse.ArgumentParser,
    formats: Sequence[str] = FORMATS,
    deprecated: Sequence[str] = ("--output",),
    title: str = "output format (default: a table on a terminal, tab-separated values otherwise)",
    default_name: str | None = None,
) -> None:
    """The format flags, one per format in `formats`, and the old `--output FMT` spelling (which
    also takes `default_name`, the old name of the default, e.g. status's `text`)."""
    group = parser.add_argument_group(title).add_mutually_exclusive_group()
    for fmt in formats:
        names = [FLAGS[fmt], "--jsonl"] if fmt == "jsonl" else [FLAGS[fmt]]
        group.add_argument(*names, dest="output", action="store_const", const=fmt, help=FLAG_HELP[fmt])
    for old in deprecated:
        choices = [*formats, default_name] if default_name else formats
        group.add_argument(
            old, dest="output", action=_DeprecatedFormat, choices=choices, help=argparse.SUPPRESS
        )


def chosen_format(args: argparse.Namespace, out: TextIO | None = None) -> str:
    """The format the flags ask for, else a table on a terminal and TSV otherwise."""
    return getattr(args, "output", None) or default_format(is_terminal(out or sys.stdout))


def default_format(terminal: bool) -> str:
    """A table for people; tab-separated values (with a header) for pipes and files."""
    return "table" if terminal else "tsv"


def is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def quiet_closed_stdout() -> None:
    """The reader of stdout went away (`| head`): drop whatever is still buffered for it, so that
    nothing complains about the closed pipe on the way out."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# --- rendering values ------------------------------------------------------------------------


# orjson would write times its own way; `_jsonable` writes them as `render_time` does.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return render_time(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    return value


def text(value: Any) -> str:
    """A value as one cell of text: times as in JSON, JSON values as JSON, NULL as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return render_time(value)
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=_jsonable, option=_JSON_OPTIONS).decode()
    return str(value)


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_cell(value: Any) -> str:
    """A TSV cell: no quoting; backslash, tab, newline and CR escaped as \\\\ \\t \\n \\r."""
    return text(value).translate(_TSV_ESCAPES)


# --- writing rows ----------------------------------------------------------------------------


def _json_values(columns: Sequence[str], rows: Iterable[Row], json_columns: set[int]) -> Iterator[bytes]:
    for row in rows:
        values = {}
        for index, (name, value) in enumerate(zip(columns, row, strict=False)):
            if index in json_columns and isinstance(value, str):
                with contextlib.suppress(orjson.JSONDecodeError):
                    value = orjson.loads(value)
            values[name] = value
        yield orjson.dumps(values, default=_jsonable, option=_JSON_OPTIONS)


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
    if fmt == "tsv":
        out.write("\t".join(tsv_cell(name) for name in columns) + "\n")
        for row in rows:
            out.write("\t".join(tsv_cell(value) for value in row) + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([text(value) for value in row])
            count += 1
    elif fmt == "jsonl":
        for line in _json_values(columns, rows, json_columns):
            out.write(line.decode() + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for line in _json_values(columns, rows, json_columns):
            out.write((",\n " if count else "\n ") + line.decode())
            count += 1
        out.write("\n]\n" if count else "]\n")
    elif fmt == "markdown":
        out.write("| " + " | ".join(columns) + " |\n")
        out.write("|" + "|".join("---" for _ in columns) + "|\n")
        for row in rows:
            cells = (text(value).replace("|", "\\|").replace("\n", " ") for value in row)
            out.write("| " + " | ".join(cells) + " |\n")
            count += 1
    elif fmt == "table":
        count = write_table(out, columns, rows)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return count


def write_table(out: TextIO, columns: Sequence[str], rows: Iterable[Row]) -> int:
    """A table fitted to the terminal (cells wrap), or, written anywhere else, wide enough for
    every cell on one line."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rows, more = _first_rows(rows, TABLE_MAX_ROWS)
    table = Table(header_style="bold", show_lines=False)
    for index, name in enumerate(columns):
        numbers = all(_is_number(row[index]) for row in rows if row[index] is not None)
        # A narrow terminal wraps a cell rather than hide part of it; numbers line up right.
        table.add_column(name, overflow="fold", justify="right" if rows and numbers else "left")
    for row in rows:
        table.add_row(*(Text(text(value)) for value in row))
    terminal = is_terminal(out)
    console = Console(
        file=out,
        soft_wrap=False,
        highlight=False,
        width=None if terminal else UNLIMITED_WIDTH,
        color_system="auto" if terminal else None,
    )
    console.on_broken_pipe = _reader_gone  # type: ignore[method-assign]  # rich would exit 1
    console.print(table)
    if more:
        out.flush()  # the table before the note; a reader gone (`| head`) ends the command here
        print(
            f"logscope: the first {len(rows):,} rows are shown; --tsv, --csv or --nl print all of them",
            file=sys.stderr,
        )
    return len(rows)


def _first_rows(rows: Iterable[Row], most: int) -> tuple[list[Row], bool]:
    """The first `most` rows, and whether there are more (not read)."""
    iterator = iter(rows)
    first = list(itertools.islice(iterator, most))
    return first, next(iterator, None) is not None


def _reader_gone() -> None:
    """Rich's broken-pipe hook: a closed pipe ends the command the way it ends every other
    (logscope/cli.py: quietly, status 0), not with rich's SystemExit(1)."""
    raise BrokenPipeError


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
