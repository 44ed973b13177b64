"""docs/cli-reference.md, generated from the argument parser: every command's `--help`.

    python -m logscope.commands.reference          # write docs/cli-reference.md
    python -m logscope.commands.reference --check  # exit 1 when it is out of date

tests/test_cli_reference.py fails when an option changes and the file was not regenerated.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from logscope.cli import VERBS, build_parser

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"
WIDTH = "100"  # columns the help is wrapped at, whatever the terminal
HEADER = """# CLI reference

Every command's `--help`, generated from the argument parser by
`python -m logscope.commands.reference` (do not edit by hand: tests/test_cli_reference.py fails
when an option changes and this file was not regenerated). [cli.md](cli.md) covers what the
commands share: output formats, pipes, exit statuses, completion.
"""

ParserFor = Callable[[str | None], argparse.ArgumentParser]


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from dict.fromkeys(action.choices.values())  # aliases once


def _commands(parser_for: ParserFor) -> Iterator[argparse.ArgumentParser]:
    """`logscope`, then each verb and its own subcommands, depth first, in `--help` order."""
    yield parser_for(None)
    for verb in VERBS:
        top = parser_for(verb)
        verb_parser = next(p for p in _subcommands(top) if p.prog.split()[-1] == verb)
        stack = [verb_parser]
        while stack:
            parser = stack.pop(0)
            yield parser
            stack[:0] = list(_subcommands(parser))


@contextmanager
def _fixed_width() -> Iterator[None]:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _anchor(prog: str) -> str:
    return prog.lower().replace(" ", "-")


def reference_text(parser_for: ParserFor = build_parser) -> str:
    """The whole reference page."""
    with _fixed_width():
        pages = [(parser.prog, parser.format_help()) for parser in _commands(parser_for)]
    index = "\n".join(f"- [`{prog}`](#{_anchor(prog)})" for prog, _ in pages)
    sections = "\n".join(f"## {prog}\n\n```text\n{text.rstrip()}\n```\n" for prog, text in pages)
    return f"{HEADER}\n{index}\n\n{sections}"


def main(argv: list[str] | None = None, parser_for: ParserFor = build_parser) -> int:
    parser = argparse.ArgumentParser(prog="python -m logscope.commands.reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument("--file", type=Path, default=REFERENCE, help=f"default: {REFERENCE.name} in docs/")
    args = parser.parse_args(argv)
    text = reference_text(parser_for)
    if args.check:
        current = args.file.read_text() if args.file.exists() else ""
        if current != text:
            print(f"{args.file}: out of date; run python -m logscope.commands.reference", file=sys.stderr)
            return 1
        return 0
    args.file.write_text(text)
    print(f"wrote {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
