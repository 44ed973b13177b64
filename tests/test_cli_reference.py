"""docs/cli-reference.md is generated from the argument parser and must be current."""

from __future__ import annotations

import argparse

from logscope.cli import VERBS, build_parser
from logscope.commands.reference import REFERENCE, main, reference_text


def test_the_cli_reference_is_current() -> None:
    assert REFERENCE.read_text() == reference_text(), (
        "docs/cli-reference.md is out of date: run `python -m logscope.commands.reference`"
    )


def test_it_has_every_command_and_option() -> None:
    text = reference_text()
    for verb in VERBS:
        assert f"\n## logscope {verb}\n" in text
    for heading in ("logscope rules backtest", "logscope formats detect"):
        assert f"\n## {heading}\n" in text
    assert "--alerts-out FILE" in text and "--max-db-size SIZE" in text


def test_an_option_added_without_regenerating_is_caught(tmp_path, capsys) -> None:
    def with_new_option(verb: str | None) -> argparse.ArgumentParser:
        parser = build_parser(verb)
        if verb == "ingest":
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            sub.choices["ingest"].add_argument("--brand-new", help="an option nobody documented")
        return parser

    changed = reference_text(with_new_option)
    assert "--brand-new" in changed and changed != REFERENCE.read_text()
    written = tmp_path / "cli-reference.md"
    assert main(["--file", str(written)]) == 0
    assert main(["--check", "--file", str(written)]) == 0
    # The option added to the parser, the file left as it was: the check fails.
    assert main(["--check", "--file", str(written)], with_new_option) == 1
    assert "out of date" in capsys.readouterr().err
