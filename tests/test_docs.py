"""The docs keep up with the code: every table column and every CLI verb is documented."""

from __future__ import annotations

import re

import duckdb
import pytest
from conftest import REPO

from logscope.cli import build_parser
from logscope.store.schema import ALL_DDL


def documented_columns(table: str) -> set[str]:
    text = (REPO / "docs" / "schema.md").read_text()
    section = text.split(f"## `{table}`", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


def test_every_column_is_in_schema_md() -> None:
    con = duckdb.connect()
    for ddl in ALL_DDL:
        con.execute(ddl)
    tables = [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    assert "logs" in tables
    for table in tables:
        columns = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
            ).fetchall()
        }
        assert columns == documented_columns(table), f"docs/schema.md is out of step for {table}"


def verbs() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "verb")
    return sorted(action.choices)


@pytest.mark.parametrize("verb", verbs())
def test_every_command_has_a_docs_page_and_a_readme_row(verb: str) -> None:
    assert (REPO / "docs" / f"{verb}.md").exists(), f"docs/{verb}.md is missing"
    assert f"`logscope {verb}" in (REPO / "README.md").read_text()


def overview_line(parser_verb: str | None, verb: str) -> str:
    parser = build_parser(parser_verb)
    action = next(a for a in parser._actions if a.dest == "verb")
    return next(choice.help for choice in action._choices_actions if choice.dest == verb)


@pytest.mark.parametrize("verb", verbs())
def test_logscope_help_lists_each_command_with_its_own_line(verb: str) -> None:
    """`logscope --help` loads no command module: its line for each is kept in cli.VERBS."""
    assert overview_line(None, verb) == overview_line(verb, verb)


def test_the_docs_index_links_every_page_and_every_link_resolves() -> None:
    docs = REPO / "docs"
    index = (docs / "README.md").read_text()
    linked = set(re.findall(r"\]\(([\w.-]+\.md)\)", index))
    pages = {page.name for page in docs.glob("*.md")} - {"README.md"}
    missing, gone = sorted(pages - linked), sorted(linked - pages)
    assert linked == pages, f"docs/README.md: not linked {missing}, linked but gone {gone}"
    assert "docs/README.md" in (REPO / "README.md").read_text()
    for page in docs.glob("*.md"):
        for target in re.findall(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)", page.read_text()):
            assert (page.parent / target).resolve().exists(), f"{page.name} links to {target}, not there"
