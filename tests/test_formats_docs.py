"""docs/formats.md lists every built-in format with an example line it reads, and says how to add one."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import REPO

from logscope.parsing.registry import builtin_registry

FORMATS_MD = REPO / "docs" / "formats.md"
# Formats whose lines only mean something after the header lines that name their columns.
HEADER_DRIVEN = {"w3c", "zeek", "csv"}
ELIDED = ("...", "…")


def format_rows() -> dict[str, str]:
    """Format name -> the rest of its table row, for rows whose first cell is one `name`."""
    rows: dict[str, str] = {}
    for line in FORMATS_MD.read_text().splitlines():
        found = re.match(r"\| `([a-z0-9_]+)` \|(.*)\|$", line)
        if found:
            rows.setdefault(found[1], found[2])
    return rows


def example_of(row: str) -> str | None:
    """The row's example line: the longest code span (20 characters or more) of its last cell."""
    last_cell = re.split(r"(?<!\\)\|", row)[-1]
    spans = [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", last_cell)]
    spans = [span for span in spans if len(span) >= 20]
    return max(spans, key=len) if spans else None


REGISTRY = builtin_registry(dt.UTC)
ROWS = format_rows()


@pytest.mark.parametrize("name", sorted(REGISTRY.by_name))
def test_every_format_has_a_row_with_an_example_line(name: str) -> None:
    assert name in ROWS, f"docs/formats.md has no table row for `{name}`"
    example = example_of(ROWS[name])
    assert example, f"docs/formats.md: the row of `{name}` shows no example line"
    if name in HEADER_DRIVEN or any(mark in example for mark in ELIDED):
        return  # shortened for the page, or meaningless without its header
    assert REGISTRY.get(name).parse(example) is not None, f"`{name}` does not read its example: {example}"


def test_formats_md_says_how_to_add_a_format() -> None:
    text = FORMATS_MD.read_text()
    section = text.split("## How to add a format", 1)[1].split("\n## ", 1)[0]
    assert "formats check" in section and "[[format]]" in text
