"""Regex formats, the first-character prefilter, the registry order and detection internals."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import regex

from logscope.errors import LogscopeError
from logscope.parsing.definition import FormatDefinition, load_definitions, pattern_groups
from logscope.parsing.loader import builtin_files, definitions_in
from logscope.parsing.match_start import first_chars
from logscope.parsing.pattern_text import scanned_groups
from logscope.parsing.regexformat import RegexFormat, compile_pattern
from logscope.parsing.registry import builtin_registry, parser_for
from logscope.parsing.source_parser import SourceParser
from logscope.record import LineBatch

FORMAT = """
[[format]]
name = "demo"
title = "Demo"
patterns = [
  '''^(?P<time>\\S+ \\S+) (?P<level>\\w+) ok=(?P<ok>\\w+) n=(?P<n>\\S+) r=(?P<r>\\S+) (?P<message>.*)$''',
]
time = { field = "time", formats = ["%Y-%m-%d %H:%M:%S"] }
level = { field = "level", map = { NOTE = "notice" } }
message = "message"
types = { ok = "bool", n = "int", r = "float" }
null_values = ["-"]

[[format.samples]]
line = "2026-11-26 02:00:00 NOTE ok=yes n=3 r=0.5 hi"
"""


def demo() -> RegexFormat:
    (definition,) = load_definitions(FORMAT, "demo.toml")
    return RegexFormat(definition, UTC)


def test_typed_fields_are_converted_and_nulls_dropped() -> None:
    parser = demo()
    _, level, message, fields, host = parser.parse("2026-11-26 02:00:00 NOTE ok=yes n=3 r=0.5 hi")  # type: ignore[misc]
    assert (level, message, host) == ("notice", "hi", None)
    assert fields == {"ok": True, "n": 3, "r": 0.5}
    _, _, _, fields, _ = parser.parse("2026-11-26 02:00:00 info ok=no n=- r=x bye")  # type: ignore[misc]
    assert fields == {"ok": False}  # '-' is null, 'x' is not a float: both left out
    assert parser.field_types == {"ok": "BOOLEAN", "n": "BIGINT", "r": "DOUBLE"}


def test_a_shape_match_with_an_unreadable_time_is_declined() -> None:
    assert demo().parse("2026-13-45 02:00:00 info ok=yes n=1 r=1 x") is None


def test_patterns_use_re_unless_they_need_regex() -> None:
    assert isinstance(compile_pattern(r"^(?P<a>\d+) (?P<b>.*)$"), re.Pattern)
    assert isinstance(compile_pattern(r"^(?P<word>\p{L}+) (?P<rest>.*)$"), regex.Pattern)
    builtin = builtin_registry(UTC)
    for parser in builtin.ordered:
        for pattern in getattr(parser, "patterns", []):
            assert isinstance(pattern, re.Pattern), f"{parser.name} falls back to the slower regex module"


def test_first_chars() -> None:
    assert first_chars(r"^\[(?P<t>[^\]]+)\]") == frozenset("[")
    assert first_chars(r"^(?P<t>\d{4})-") == frozenset("0123456789")
    assert first_chars(r"^(?:<\d+>)?[A-Z][a-z]{2}") == frozenset("<ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert first_chars(r"^(?P<level>DEBUG|INFO):") == frozenset("DI")
    assert first_chars(r"^\S+ ") is None  # too broad to filter on
    assert first_chars(r"^(?:x)?.*") is None  # can start with anything
    assert first_chars(r"(?i)^error") == frozenset("eE")


def test_group_names_read_from_the_text_equal_re_s() -> None:
    """Loading reads a pattern's group names from its text (the compile waits for first use):
    for every bundled pattern the reading gives what `re` gives, and refuses nothing."""
    definitions = [d for d in definitions_in(builtin_files()) if isinstance(d, FormatDefinition)]
    texts = [
        text
        for definition in definitions
        for text in [*definition.patterns, definition.continuation, definition.time_continuation]
        if text
    ]
    assert len(texts) > 100
    for text in texts:
        assert scanned_groups(text) == tuple(re.compile(text).groupindex), text


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        (r"^\(?P<a>x\) (?P<b>y)", ("b",)),  # an escaped parenthesis opens no group
        (r"^[(?P<z>]+ (?P<b>y)", ("b",)),  # nor one inside a class
        (r"^[](?P<z>]+ (?P<b>y)", ("b",)),  # a `]` first in a class is a literal
        (r"^[^]x]+(?P<a>\d)(?-i:q)?(?=a)(?<!b)(?>c)(?P=a)", ("a",)),
        (r"(?i)^(?P<a>\d)(?:q)(?<=a)(?P<b>x)", ("a", "b")),
        (r"(?x) (?P<a>\d) # (?P<b>", None),  # verbose: comments could hold anything
        (r"^(?#(?P<a>)(?P<b>x)", None),  # a comment group
        (r"^[[:alpha:]](?P<a>x)", None),  # `re` and `regex` read `[[:` differently
        (r"^(?P<a>x)|(?P<a>y)", None),  # a name twice (`regex` allows it)
        (r"^(?<a>x)", None),  # `regex`'s spelling
    ],
)
def test_group_names_read_from_the_text_on_awkward_patterns(pattern: str, names: tuple | None) -> None:
    assert scanned_groups(pattern) == names
    if names is not None:
        assert pattern_groups(pattern) == tuple(re.compile(pattern).groupindex) == names


def test_the_registry_compiles_a_pattern_on_its_first_use() -> None:
    """Loading compiles none of the ~150 bundled patterns; detection compiles those of the formats
    whose first characters allow the lines' (an nginx line: no format starting with `[` or `<`)."""
    registry = builtin_registry(UTC)
    regex_formats = [parser for parser in registry.ordered if isinstance(parser, RegexFormat)]
    assert len(regex_formats) > 50
    assert not any("patterns" in vars(parser) for parser in regex_formats)
    line = '10.0.0.1 - - [20/Nov/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'
    parser = SourceParser(registry)
    (record,) = parser.parse_batch(LineBatch("t", [line], 0))
    assert record.format == "nginx_access"
    compiled = {parser.name for parser in regex_formats if "patterns" in vars(parser)}
    assert "nginx_access" in compiled
    bracketed = {p.name for p in regex_formats if p.first_chars is not None and "1" not in p.first_chars}
    assert bracketed and not compiled & bracketed


def test_every_builtin_sample_passes_its_own_prefilter() -> None:
    for definition in definitions_in(builtin_files()):
        chars = parser_for(definition, UTC).first_chars
        for sample in definition.samples:
            assert chars is None or sample.lines[0][:1] in chars, (definition.name, sample.lines[0])


def test_every_parser_declares_field_types() -> None:
    for parser in builtin_registry(UTC).ordered:
        assert isinstance(getattr(parser, "field_types", None), dict), parser.name


def test_registry_tries_specific_formats_before_generic_ones() -> None:
    names = [parser.name for parser in builtin_registry(UTC).ordered]
    assert names.index("openssh") < names.index("bsd_syslog") < names.index("syslog") < names.index("logfmt")
    assert names.index("spring_boot") < names.index("log4j")


def test_detection_keeps_specific_formats_ahead_of_generic_ones() -> None:
    parser = SourceParser(builtin_registry(UTC))
    sshd = [f"Dec 10 06:55:{n % 60:02d} LabSZ sshd[24200]: Invalid user admin{n}" for n in range(100)]
    logind = "Dec 10 06:56:00 LabSZ systemd-logind[1]: New session 5 of user root."
    lines = [line for pair in zip(sshd, [logind] * 100, strict=True) for line in pair]
    records = parser.parse_batch(LineBatch("auth.log", lines, final=True))
    # bsd_syslog matches every line, openssh half of them: both are plausible, the specific one first.
    assert parser.detected == "bsd_syslog"
    assert [r.format for r in records[0::2]] == ["openssh"] * 100
    assert [r.format for r in records[1::2]] == ["bsd_syslog"] * 100
    assert records[1].fields == {"app": "systemd-logind", "pid": 1}


def test_formats_unseen_in_the_sample_are_tried_last() -> None:
    parser = SourceParser(builtin_registry(UTC))
    access = '1.2.3.4 - - [26/Nov/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"'
    parser.parse_batch(LineBatch("a", [access] * 70))
    assert parser._candidates[0].name == "nginx_access"
    assert parser.detected == "nginx_access"
    late = parser.parse_batch(LineBatch("a", ['{"msg": "json after all"}'], final=True))
    assert late[0].format == "json"  # still found per line


def test_raw_lines_skip_formats_by_first_character() -> None:
    parser = SourceParser(builtin_registry(UTC))
    parser.parse_batch(LineBatch("x", ["~~~ nothing parses this ~~~"] * 70))
    candidates = parser._by_first["~"]
    every = builtin_registry(UTC).ordered
    assert 0 < len(candidates) < len(every) / 2  # most formats are not even tried on such lines


def epoch_us(text: str) -> int:
    return (datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_json_conventions_docker_bunyan_zap_structlog() -> None:
    parser = SourceParser(builtin_registry(UTC))
    lines = [
        '{"log":"listening on :8080\\n","stream":"stdout","time":"2026-11-26T02:00:00.123456789Z"}',
        '{"name":"api","hostname":"web-1","pid":42,"level":30,"msg":"hello","time":"2026-11-26T02:00:01.000Z","v":0}',
        '{"level":"warn","ts":1795658402.5,"caller":"main.go:12","msg":"slow","took":1.5}',
        '{"event":"user logged in","level":"error","timestamp":"2026-11-26T02:00:03Z","user":"ann"}',
    ]
    docker, bunyan, zap, structlog = parser.parse_batch(LineBatch("c", lines, final=True))
    # Each is recognised by its JSON schema (parsers/json_schemas.toml), not only as plain `json`.
    expected = ["docker_json", "bunyan", "zap", "structlog"]
    assert [r.format for r in (docker, bunyan, zap, structlog)] == expected
    assert (docker.format, docker.message, docker.fields) == (
        "docker_json",
        "listening on :8080",
        {"stream": "stdout"},
    )
    assert docker.ts == epoch_us("2026-11-26T02:00:00.123456+00:00")
    assert (bunyan.level, bunyan.message, bunyan.host, bunyan.fields["pid"]) == ("info", "hello", "web-1", 42)
    assert (zap.level, zap.message, zap.ts, zap.fields) == (
        "warning",
        "slow",
        epoch_us("2026-11-26T02:00:02.5+00:00"),
        {"caller": "main.go:12", "took": 1.5},
    )
    assert (structlog.level, structlog.message, structlog.fields) == (
        "error",
        "user logged in",
        {"user": "ann"},
    )


def schema_error(text: str) -> str:
    try:
        load_definitions(text, "mine.toml")
    except LogscopeError as exc:
        return str(exc)
    raise AssertionError("the definition was accepted")


def test_schema_errors_name_the_file_and_the_field() -> None:
    nested = FORMAT.replace(
        'formats = ["%Y-%m-%d %H:%M:%S"] }', 'formats = ["%Y-%m-%d %H:%M:%S"], zone = "UTC" }'
    )
    assert schema_error(nested).startswith("mine.toml: format 'demo': field 'time.zone': unknown key")
    bad_level = FORMAT.replace('NOTE = "notice"', 'NOTE = "loud"')
    assert "field 'level.map.NOTE'" in schema_error(bad_level)
    no_samples = FORMAT.split("[[format.samples]]")[0]
    assert "field 'samples'" in schema_error(no_samples)
    no_group = FORMAT.replace('message = "message"', 'message = "text"')
    assert "field 'message': no group named 'text'" in schema_error(no_group)
    assert "field 'name'" in schema_error(FORMAT.replace('name = "demo"', 'name = "Demo-1"'))
    assert "not valid TOML" in schema_error("[[format]\n")


def test_bundled_formats_pass_the_backtracking_check_they_skip_when_loaded() -> None:
    """Loading trusts the bundled formats (the analysis cost every start ~50 ms): here they are
    loaded untrusted, as a user's formats are, and every one passes."""
    for file in builtin_files():
        untrusted = load_definitions(file.text, file.origin)
        trusted = load_definitions(file.text, file.origin, shipped=True)
        assert [d.name for d in untrusted] == [d.name for d in trusted]


def test_a_user_format_that_backtracks_exponentially_is_still_refused() -> None:
    slow = FORMAT.replace(r"(?P<message>.*)$", r"(?P<message>(a+)+b)$")
    with pytest.raises(LogscopeError, match="exponential time"):
        load_definitions(slow, "mine.toml")
