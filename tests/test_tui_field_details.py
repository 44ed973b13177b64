"""lnav's `p`: the current record's fields pretty-printed under its line, in a real terminal."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from terminal import SAMPLE_LOGS, Terminal, background_at, logscope_command, needs_tmux

from logscope.tui.rendering import field_lines

FIELD_ROW = re.compile(r"^\s{20,}(\w+)\s*= (\S+)")


def test_fields_are_aligned_and_nested_values_pretty_printed() -> None:
    fields = orjson.dumps({"user": "bob", "request": {"path": "/a", "ms": 12}, "note": "two\nlines"}).decode()
    assert [line.plain for line in field_lines(fields)] == [
        "user    = bob",
        "request = {",
        '            "path": "/a",',
        '            "ms": 12',
        "          }",
        "note    = two",
        "          lines",
    ]
    assert [line.plain for line in field_lines(None)] == ["(no fields)"]


@needs_tmux
@pytest.mark.slow
def test_p_shows_the_current_records_fields_under_it_and_again_hides_them(tmp_path: Path) -> None:
    command = logscope_command("tail", str(SAMPLE_LOGS), "--db", str(tmp_path / "tail.duckdb"))
    terminal = Terminal(command, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    try:
        terminal.wait_for("/1,282", timeout=60)
        terminal.keys("k", "k", "k", "p")  # a JSON record: order placed, with four fields
        screen = terminal.wait_for("duration_ms = ")
        lines = screen.splitlines()
        fields = {index: FIELD_ROW.match(line) for index, line in enumerate(lines)}
        fields = {index: match for index, match in fields.items() if match}
        assert [match.group(1) for match in fields.values()] == [
            "service",
            "order_id",
            "amount",
            "duration_ms",
        ]
        record = min(fields) - 1  # the line the fields are under: the cursor's, and it says the same
        for match in fields.values():
            assert f"{match.group(1)}={match.group(2)}" in lines[record]
        styled = terminal.styled_lines()
        assert background_at(styled[record], 0) != background_at(styled[record - 1], 0)  # the cursor's
        terminal.keys("p")
        screen = terminal.wait_for(lambda text: "duration_ms = " not in text)
        assert "1,279/1,282" in screen
    finally:
        terminal.close()
