"""`time.continuation`, `time.carry`, `level.continuation`: a record's time or level on a later line."""

from __future__ import annotations

from datetime import UTC

import pytest

from logscope.errors import LogscopeError
from logscope.parsing.definition import load_definitions
from logscope.parsing.registry import FormatRegistry, parser_for
from logscope.parsing.source_parser import SourceParser
from logscope.parsing.time_values import parse_iso
from logscope.record import LineBatch, Record

SLOW = """
[[format]]
name = "slowish"
title = "a header line, the time in a later line"
patterns = ['''^# Query by (?P<user>\\w+)$''']
time = { formats = ["epoch"], continuation = '''^SET timestamp=(?P<time>\\d+);$''' }
multiline = { continuation = '''^(?!# Query by )''' }
[[format.samples]]
lines = ["# Query by root", "SET timestamp=1796603813;", "SELECT 1;"]
ts = "2026-12-07T00:36:53Z"
"""

GENERAL = """
[[format]]
name = "generalish"
title = "the time only on the first line of a second"
patterns = ['''^(?P<time>\\d{6} \\d\\d:\\d\\d:\\d\\d)?\\t(?P<message>.*)$''']
time = { formats = ["%y%m%d %H:%M:%S"], carry = true }
message = "message"
[[format.samples]]
line = "261207 00:36:53\\tConnect"
ts = "2026-12-07T00:36:53Z"
"""


def records(toml: str, lines: list[str], batches: int = 1) -> list[Record]:
    (definition,) = load_definitions(toml, "test.toml")
    parser = parser_for(definition, UTC)
    stream = SourceParser(FormatRegistry([parser]), forced=parser)
    size = -(-len(lines) // batches)
    out: list[Record] = []
    for start in range(0, len(lines), size):
        chunk = lines[start : start + size]
        out += stream.parse_batch(LineBatch("t", chunk, received_at=1, final=start + size >= len(lines)))
    return out


def us(text: str) -> int | None:
    return parse_iso(text, UTC)


def test_time_from_a_continuation_line() -> None:
    lines = ["# Query by root", "SET timestamp=1796603813;", "SELECT 1;", "# Query by app", "SELECT 2;"]
    first, second = records(SLOW, lines)
    assert first.ts == us("2026-12-07T00:36:53Z") and first.message.endswith("SELECT 1;")
    assert second.ts is None  # no time line: the store gives it the import time


def test_first_continuation_time_wins() -> None:
    lines = ["# Query by root", "SET timestamp=1796603813;", "SET timestamp=1796603999;"]
    (record,) = records(SLOW, lines)
    assert record.ts == us("2026-12-07T00:36:53Z")


@pytest.mark.parametrize("batches", [1, 4])
def test_carry_gives_timeless_records_the_time_before(batches: int) -> None:
    lines = [
        "\tbefore any time",
        "261207 00:36:53\tConnect",
        "\tQuery",
        "\tQuit",
        "261207 00:36:54\tConnect",
        "\tQuery",
    ]
    got = records(GENERAL, lines, batches)
    assert [r.message for r in got] == ["before any time", "Connect", "Query", "Quit", "Connect", "Query"]
    first, second = us("2026-12-07T00:36:53Z"), us("2026-12-07T00:36:54Z")
    assert [r.ts for r in got] == [None, first, first, first, second, second]


def test_without_carry_timeless_records_keep_none() -> None:
    got = records(GENERAL.replace(", carry = true", ""), ["261207 00:36:53\tConnect", "\tQuery"])
    assert got[1].ts is None


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("multiline = { continuation = '''^(?!# Query by )''' }", ""), "needs multiline.continuation"),
        (("(?P<time>\\d+)", "(?P<when>\\d+)"), "field 'time.continuation': no group named 'time'"),
        (("(?P<time>\\d+)", "(?P<time>(a+)+)"), "field 'time.continuation': may take exponential time"),
        (
            ('formats = ["epoch"],', 'formats = ["epoch"], carry = 1,'),
            "field 'time.carry': must be true or false",
        ),
    ],
)
def test_bad_time_options_are_named(change: tuple[str, str], complaint: str) -> None:
    with pytest.raises(LogscopeError, match=complaint.replace("(", r"\(")):
        load_definitions(SLOW.replace(*change), "test.toml")


REQUESTS = """
[[format]]
name = "requestish"
title = "a request's lines; its status on a later line"
patterns = ['''^Started (?P<path>\\S+)$''']
multiline = { continuation = '''^(?!Started )''' }
[format.level]
default = "info"
continuation = '''^Completed (?P<level>\\d{3}) '''
map = { "5*" = "error", "4*" = "warning" }
[[format.samples]]
lines = ["Started /", "Completed 200 OK"]
level = "info"
"""


def test_level_from_a_continuation_line_the_last_wins() -> None:
    lines = ["Started /a", "Completed 404 Not Found", "Completed 500 Error", "Started /b", "working"]
    failed, unfinished = records(REQUESTS, lines, batches=2)
    assert failed.level == "error"
    assert unfinished.level == "info"  # no Completed line: the default


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("multiline = { continuation = '''^(?!Started )''' }", ""), "needs multiline.continuation"),
        (("(?P<level>\\d{3})", "(?P<status>\\d{3})"), "field 'level.continuation': no group named 'level'"),
        (("(?P<level>\\d{3})", "(?P<level>(a+)+)"), "field 'level.continuation': may take exponential time"),
    ],
)
def test_bad_level_continuation_is_named(change: tuple[str, str], complaint: str) -> None:
    with pytest.raises(LogscopeError, match=complaint.replace("(", r"\(")):
        load_definitions(REQUESTS.replace(*change), "test.toml")
