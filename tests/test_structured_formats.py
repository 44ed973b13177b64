"""JSON lines and logfmt: the key conventions of common loggers, and what is declined."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from logscope.parsing.jsonlines import JsonLinesParser
from logscope.parsing.levels import normalize_level
from logscope.parsing.logfmt import LogfmtParser, _pairs, _unquoted_pairs
from logscope.parsing.time_values import datetime_to_us

UTC = dt.UTC


def us(*parts: int) -> int:
    return datetime_to_us(dt.datetime(*parts, tzinfo=UTC), UTC)


@pytest.fixture
def json_parser() -> JsonLinesParser:
    return JsonLinesParser(UTC)


def test_bunyan(json_parser: JsonLinesParser) -> None:
    line = (
        '{"name":"api","hostname":"web-1","pid":41,"level":50,"msg":"request failed",'
        '"time":"2024-03-01T08:00:00.123Z","v":0}'
    )
    assert json_parser.parse(line) == (
        us(2024, 3, 1, 8, 0, 0, 123000),
        "error",
        "request failed",
        {"name": "api", "pid": 41, "v": 0},
        "web-1",
    )


def test_zap_epoch_float_seconds(json_parser: JsonLinesParser) -> None:
    ts, level, message, fields, _ = json_parser.parse(
        '{"level":"info","ts":1709280000.5,"caller":"main.go:12","msg":"started"}'
    )
    assert (ts, level, message, fields) == (
        us(2024, 3, 1, 8, 0, 0, 500000),
        "info",
        "started",
        {"caller": "main.go:12"},
    )


def test_structlog_event_and_docker_json_file(json_parser: JsonLinesParser) -> None:
    parsed = json_parser.parse(
        '{"event":"user created","level":"warning","timestamp":"2024-03-01T08:00:00Z"}'
    )
    assert parsed[1:3] == ("warning", "user created")
    docker = json_parser.parse(
        '{"log":"GET /health 200\\n","stream":"stdout","time":"2024-03-01T08:00:00.000000001Z"}'
    )
    assert docker == (us(2024, 3, 1, 8), None, "GET /health 200", {"stream": "stdout"}, None)


def test_epoch_milliseconds_and_nanoseconds(json_parser: JsonLinesParser) -> None:
    assert json_parser.parse('{"time":1709280000123,"msg":"ms"}')[0] == us(2024, 3, 1, 8, 0, 0, 123000)
    assert json_parser.parse('{"time":1709280000123456789,"msg":"ns"}')[0] == us(2024, 3, 1, 8, 0, 0, 123456)
    assert json_parser.parse('{"time":"1709280000","msg":"s as text"}')[0] == us(2024, 3, 1, 8)


def test_unreadable_time_stays_a_field(json_parser: JsonLinesParser) -> None:
    ts, _, _, fields, _ = json_parser.parse('{"time":"yesterday","msg":"x"}')
    assert ts is None and fields == {"time": "yesterday"}


@pytest.mark.parametrize("line", ["[1,2]", '"text"', "{broken", "not json", ""])
def test_json_declines_what_is_not_an_object(json_parser: JsonLinesParser, line: str) -> None:
    assert json_parser.parse(line) is None


def test_logfmt_quoting_and_conventions() -> None:
    parser = LogfmtParser(UTC)
    parsed = parser.parse('ts=2024-03-01T08:00:00Z lvl=eror msg="say \\"hi\\"" path=/a empty= n=3')
    assert parsed == (us(2024, 3, 1, 8), "error", 'say "hi"', {"path": "/a", "empty": "", "n": "3"}, None)


@pytest.mark.parametrize(
    "line",
    ["plain text", "only=one", "GET /x?a=1 HTTP/1.1", 'a=1 b="unterminated', "a=1 and prose"],
)
def test_logfmt_declines_prose(line: str) -> None:
    assert LogfmtParser(UTC).parse(line) is None


def test_logfmt_lines_without_quotes_split_as_the_pair_pattern_reads_them() -> None:
    """Lines without quotes are split on whitespace (faster); 20,000 random ones read the same
    as through the pattern: keys, values with `=` and `,`, Unicode and control spaces, junk."""
    rng = random.Random(7)
    pieces = ["a", "b", "=", ",", " ", "\t", "\x1c", "\u00a0", "\u2028", "x1", ".", ":", "level", "msg", "é"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 20))).strip()
        assert _unquoted_pairs(text) == _pairs(text), repr(text)


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("INFO", "info"),
        ("Warn", "warning"),
        ("WARNING", "warning"),
        ("err", "error"),
        ("E", "error"),
        ("CRIT", "critical"),
        ("emerg", "fatal"),
        ("panic", "fatal"),
        ("[debug]", "debug"),
        ("severe", "error"),
        ("finest", "trace"),
        ("notice", "notice"),
        (30, "info"),
        (60, "fatal"),
        ("chatty", None),
        (True, None),
        (None, None),
        (35, None),
    ],
)
def test_level_normalization(written: object, normalized: str | None) -> None:
    assert normalize_level(written) == normalized
