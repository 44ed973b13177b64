"""`logscope formats list|show|detect|check`: the log formats logscope knows and how they fare."""

from __future__ import annotations

import argparse
import re
import sys
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from logscope.commands.common import add_formats_option, build_formats, examples
from logscope.commands.completion import log_format_names
from logscope.errors import LogscopeError
from logscope.output import add_output_options, chosen_format, write_rows

if TYPE_CHECKING:  # the parsing stage is imported by the actions that use it
    from logscope.parsing.definition import FormatDefinition
    from logscope.parsing.loader import DefinitionFile
    from logscope.parsing.registry import FormatRegistry

DETECT_LINES = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "formats",
        help="list, show, detect and check log formats",
        description="The log formats: built-in ones (parsers/*.toml and code), and yours.",
        **examples(
            "logscope formats list",
            "logscope formats detect sample_logs/syslog",
            "logscope formats show nginx_access",
        ),
    )
    actions = parser.add_subparsers(dest="formats_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="every known format, in the order detection tries them")
    add_output_options(listing)
    add_formats_option(listing)
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="one format's definition: patterns, time, level, fields")
    show.add_argument("name", metavar="NAME").completer = log_format_names  # type: ignore[attr-defined]
    add_formats_option(show)
    show.set_defaults(handler=run_show)

    detect = actions.add_parser("detect", help="which format a file is in, with the runners-up")
    detect.add_argument("file", metavar="FILE")
    detect.add_argument(
        "--lines", type=int, default=DETECT_LINES, help=f"lines to read (default {DETECT_LINES})"
    )
    add_output_options(detect)
    detect.add_argument("--tz", metavar="ZONE", help="time zone for times written without one")
    detect.add_argument(
        "--propose",
        action="store_true",
        help="print only a TOML definition proposed from the file's lines (to save as a format file)",
    )
    add_formats_option(detect)
    detect.set_defaults(handler=run_detect)

    check = actions.add_parser(
        "check", help="validate definitions and their samples (built-ins and yours, or DIR's)"
    )
    check.add_argument("dirs", nargs="*", metavar="DIR", help="check only the *.toml files here")
    check.set_defaults(handler=run_check)


def _registry(args: argparse.Namespace) -> FormatRegistry:
    registry, _ = build_formats(argparse.Namespace(tz=getattr(args, "tz", None) or "UTC", **_dirs(args)))
    return registry


def _dirs(args: argparse.Namespace) -> dict[str, list[str] | None]:
    return {"formats_dirs": getattr(args, "formats_dirs", None), "log_format": None}


def run_list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    rows = []
    for parser in registry.ordered:
        definition = registry.definitions.get(parser.name)
        origin = definition.origin if definition else f"code: {type(parser).__module__}"
        multiline = "yes" if getattr(parser, "continuation", None) is not None else ""
        rows.append((parser.name, parser.title, getattr(parser, "priority", ""), multiline, origin))
    columns = ("name", "title", "priority", "multiline", "defined_in")
    write_rows(sys.stdout, chosen_format(args), columns, rows)
    return 0


def run_show(args: argparse.Namespace) -> int:
    registry = _registry(args)
    parser = registry.get(args.name, "formats show")
    definition = registry.definitions.get(parser.name)
    out = sys.stdout
    out.write(f"name:        {parser.name}\ntitle:       {parser.title}\n")
    if definition is None:
        out.write(f"defined in:  Python code ({type(parser).__module__})\n")
    elif hasattr(definition, "describe"):  # a JSON schema
        out.write(definition.describe())
    else:
        _show_definition(definition)
    types = getattr(parser, "field_types", None) or {}
    if types:
        out.write("fields:\n")
        for name, column_type in types.items():
            out.write(f"  {name:<24} {column_type}\n")
    return 0


def _show_definition(definition: FormatDefinition) -> None:
    out = sys.stdout
    out.write(f"defined in:  {definition.origin}\npriority:    {definition.priority}\n")
    if definition.description:
        out.write(f"description: {definition.description}\n")
    out.write("patterns:\n")
    for pattern in definition.patterns:
        out.write(f"  {pattern}\n")
    if definition.time_field:
        out.write(f"time:        group {definition.time_field!r}, {' | '.join(definition.time_formats)}\n")
    if definition.level_field or definition.level_default:
        mapping = ", ".join(f"{k}={v}" for k, v in definition.level_map.items())
        out.write(
            f"level:       group {definition.level_field!r}"
            + (f", map {mapping}" if mapping else "")
            + (f", default {definition.level_default}" if definition.level_default else "")
            + "\n"
        )
    message = f"group {definition.message_field!r}" if definition.message_field else "the whole line"
    out.write(f"message:     {message}\n")
    if definition.continuation:
        out.write(f"multiline:   continuation {definition.continuation}\n")
    out.write(f"samples:     {len(definition.samples)}\n")
    for sample in definition.samples[:3]:
        out.write(f"  {sample.lines[0]}\n")


def run_detect(args: argparse.Namespace) -> int:
    from logscope.parsing.propose import propose
    from logscope.parsing.source_parser import score_lines

    registry = _registry(args)
    lines = _first_lines(Path(args.file), max(1, args.lines))
    if not lines:
        raise LogscopeError(f"{args.file}: no lines to detect a format from", 1)
    scores = [(name, count) for name, count in score_lines(registry, lines) if count > 0]
    best = scores[0][0] if scores else "raw"
    share = scores[0][1] / len(lines) if scores else 0.0
    if args.propose:
        return _print_proposal(Path(args.file), lines)
    sys.stderr.write(f"{args.file}: {best} ({share:.1%} of {len(lines)} lines)\n")
    fitted = max((count for name, count in scores if name not in FALLBACKS), default=0)
    if fitted < PROPOSE_BELOW * len(lines):
        proposal = propose(lines, _format_name(Path(args.file)))
        if proposal is not None:
            sys.stderr.write(
                f"No format fits the whole file; this definition reads {proposal.matched} of the "
                f"{proposal.records} lines that begin a record (`--propose` prints it alone, to save"
                " as a .toml file):\n"
                f"{proposal.toml}\n"
            )
    rows = [(name, count, f"{count / len(lines):.1%}") for name, count in scores]
    write_rows(sys.stdout, chosen_format(args), ("format", "lines", "share"), rows)
    return 0


# Formats that catch what others leave (they do not count as a fit for a proposal).
FALLBACKS = frozenset(("generic", "raw"))
PROPOSE_BELOW = 0.9


def _format_name(path: Path) -> str:
    stem = re.sub(r"[^a-z0-9_]+", "_", path.name.split(".")[0].lower()).strip("_") or "my"
    return stem if stem[0].isalpha() else f"log_{stem}"


def _print_proposal(path: Path, lines: list[str]) -> int:
    from logscope.parsing.propose import propose

    proposal = propose(lines, _format_name(path))
    if proposal is None:
        raise LogscopeError(
            f"{path}: no shape shared by most lines (a leading time, then the same kinds of words)", 1
        )
    sys.stdout.write(proposal.toml)
    return 0


def _first_lines(path: Path, count: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return [line.rstrip("\r\n") for line in islice(handle, count)]
    except OSError as exc:
        raise LogscopeError(f"{path}: cannot read: {exc.strerror or exc}", 1) from exc


def run_check(args: argparse.Namespace) -> int:
    from logscope.parsing.loader import builtin_files, directory_files, user_format_dirs

    if args.dirs:
        files: list[DefinitionFile] = []
        for name in args.dirs:
            folder = Path(name)
            if not folder.is_dir():
                raise LogscopeError(f"{name}: not a directory", 2)
            found = directory_files(folder)
            if not found:
                raise LogscopeError(f"{name}: no *.toml format files here", 2)
            files.extend(found)
    else:
        files = builtin_files() + [f for folder in user_format_dirs() for f in directory_files(folder)]
    problems, formats, samples = _check_files(files)
    for problem in problems:
        print(f"logscope: error: {problem}", file=sys.stderr)
    status = "FAILED" if problems else "ok"
    print(f"{status}: {formats} formats, {samples} samples in {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


def _check_files(files: list[DefinitionFile]) -> tuple[list[str], int, int]:
    from logscope.parsing.check import check_definition
    from logscope.parsing.loader import load_definitions

    problems: list[str] = []
    seen: dict[str, str] = {}
    formats = samples = 0
    for file in files:
        try:
            definitions = load_definitions(file.text, file.origin)
        except LogscopeError as exc:
            problems.append(str(exc))
            continue
        for definition in definitions:
            earlier = seen.get(definition.name)
            # A user directory may override a built-in name; twice in one directory is a slip.
            if earlier is not None and Path(earlier).parent == Path(file.origin).parent:
                problems.append(
                    f"{file.origin}: format {definition.name!r}: field 'name': already defined in {earlier}"
                )
            seen[definition.name] = file.origin
            formats += 1
            samples += len(definition.samples)
            problems.extend(check_definition(definition))
    return problems, formats, samples
