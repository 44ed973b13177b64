"""A pattern's gate (parsing/match_start.py `gate`: its first items, checked before the pattern is
compiled) matches every line the pattern matches, and detection with gates equals detection
without them."""

from __future__ import annotations

import random
import re
from datetime import UTC

import pytest

from logscope.parsing.loader import builtin_files, definitions_in
from logscope.parsing.match_start import gate, known_gate
from logscope.parsing.regexformat import RegexFormat
from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import SourceParser
from logscope.record import LineBatch

DEFINITIONS = definitions_in(builtin_files())
PATTERNS = sorted({pattern for definition in DEFINITIONS for pattern in getattr(definition, "patterns", [])})
SAMPLE_LINES = sorted({line for definition in DEFINITIONS for s in definition.samples for line in s.lines})
NGINX = '10.0.0.1 - - [20/Nov/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'


def variants(lines: list[str], seed: int = 17) -> list[str]:
    """The lines, cut short, and with a character changed or dropped here and there."""
    rng = random.Random(seed)
    made = list(lines)
    for line in lines:
        for _ in range(4):
            at = rng.randrange(len(line) + 1)
            made.append(line[:at])
            made.append(line[:at] + rng.choice("0aZ -:[]\"'\t.é/") + line[at + 1 :])
            made.append(line[:at] + line[at + 1 :])
    return made


LINES = variants(SAMPLE_LINES)


def test_every_bundled_pattern_has_a_gate_and_the_cache_keeps_it() -> None:
    builtin_registry(UTC)  # the formats cache read or made: the gates remembered
    missing = [pattern for pattern in PATTERNS if gate(pattern) is None]
    assert len(missing) <= len(PATTERNS) // 10, missing
    assert all(known_gate(pattern) == gate(pattern) for pattern in PATTERNS)


def test_a_gate_matches_every_line_its_pattern_matches() -> None:
    """Every bundled pattern against every format's samples and variants of them."""
    checked = 0
    for pattern in PATTERNS:
        text = gate(pattern)
        if text is None:
            continue
        compiled, gated = re.compile(pattern), re.compile(text)
        for line in LINES:
            if compiled.match(line) is not None:
                checked += 1
                assert gated.match(line) is not None, (pattern, text, line)
    assert checked > len(SAMPLE_LINES)


@pytest.mark.parametrize(
    ("pattern", "texts"),
    [
        (r"(?i)^error (?P<x>\d+)", ["ERROR 12", "error 1", "Error x", "erro"]),
        (r"^(?i:warn)ing", ["WARNing", "warning", "WARNING"]),
        (r"^(?P<a>x|yy)+z", ["xyyz", "yyxz", "z", "xy"]),
        (r"^(?P<g>(?>a+))b(?P=g)?", ["aab", "ab", "b"]),
        (r"^(?P<q>['\"]).*(?P=q) end", ["'x' end", '"y" end', "'x\" end"]),
        (r"^[\]\-^\\]{2}(?<=\])x", ["]]x", "-]x", "^\\x", "\\]x"]),
        (r"^é(?:ß|\u2603)+\S*?(?!q)", ["éß☃", "éq", "é"]),
        (r"^\w+:\s*\d{2,}+(?=\.)", ["a_b: 123.", "ä:12.", "x:1.", "x:123"]),
        (r"^(?:\[pid +)?(?P<pid>\d+)\]? +(?P<t>\d\d:\d\d)", ["[pid 12] 10:00", "12 10:00", "[pid x]"]),
        (r"(?s)^a.b$", ["a\nb", "axb", "ab"]),
    ],
)
def test_gates_of_awkward_patterns(pattern: str, texts: list[str]) -> None:
    text = gate(pattern)
    assert text is not None
    compiled, gated = re.compile(pattern), re.compile(text)
    for line in variants(texts):
        if compiled.match(line) is not None:
            assert gated.match(line) is not None, (text, line)
    assert any(gated.match(line) is None for line in ["", "~~~", *texts])  # it rules something out


def test_a_gate_is_the_pattern_s_first_items() -> None:
    """Groups opened, escapes spelled out, up to GATE_CHARS; an alternation too long is cut in
    each alternative, a repeat's body too."""
    assert gate(r"^(?P<time>\d{4}-\d\d) (?P<level>[A-Z]+) (?P<msg>.*)$") == r"^\d{4}\-\d\d\ [A-Z]+\ .*$"
    access = r"^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] (?P<rest>.*)$"
    assert gate(access) == r"^\S+\ \S+\ \S+\ \[[^\]]+\]\ .*"
    assert gate(r"^(?P<t>\d{9,10}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z): x") == r"^(?:\d{9,10}|\d{4}\-\d\d\-)"
    assert gate(r"(?x) ^ a \  b") == r"^a\ b"
    assert gate(r"^(?:x)?.*") is None  # matches '': rules nothing out
    assert gate(r"^(?P<a>\w)\1") == r"^\w"  # up to the backreference
    assert gate(r"^\p{L}") is None  # not `re`'s


def detect(lines: list[str], gates: bool) -> tuple[list[tuple], list[str], dict[str, int], str]:
    registry = builtin_registry(UTC)
    parser = SourceParser(registry)
    if not gates:
        for candidate in parser._base:
            if isinstance(candidate, RegexFormat):
                vars(candidate)["_gates"] = None  # every pattern tried, as before gates
    records = parser.parse_batch(LineBatch("f", lines, 0, final=True))
    rows = [(r.format, r.ts, r.level, r.message, r.fields, r.host, r.raw) for r in records]
    return rows, [candidate.name for candidate in parser.order], parser.scores(), parser.detected


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda definition: definition.name)
def test_detection_with_gates_equals_detection_without(definition) -> None:
    lines = [line for sample in definition.samples for line in sample.lines]
    lines += [line for other in SAMPLE_LINES[:: max(1, len(SAMPLE_LINES) // 40)] for line in [other]]
    for chosen in (lines, variants(lines, seed=len(lines))[:200]):
        assert detect(chosen, gates=True) == detect(chosen, gates=False)


def test_detecting_nginx_compiles_few_patterns() -> None:
    registry = builtin_registry(UTC)
    parser = SourceParser(registry)
    parser.parse_batch(LineBatch("access.log", [NGINX] * 64))
    assert parser.detected == "nginx_access"
    regex_formats = [candidate for candidate in parser._base if isinstance(candidate, RegexFormat)]
    digit_first = [
        candidate
        for candidate in regex_formats
        if candidate.first_chars is None or "1" in candidate.first_chars
    ]
    compiled = [candidate.name for candidate in regex_formats if "patterns" in vars(candidate)]
    assert "nginx_access" in compiled and "jenkins" not in compiled
    assert len(compiled) < len(digit_first) / 3, compiled


def test_a_user_format_s_patterns_are_not_gated() -> None:
    """A user's patterns run under a guard (maybe on `regex`), the gates on `re`: only bundled
    formats are gated, even where a user's pattern is a bundled one's text."""
    import dataclasses

    from logscope.parsing.registry import parser_for

    bundled = next(d for d in DEFINITIONS if d.name == "nginx_access")
    assert parser_for(bundled, UTC)._gates is not None
    users = dataclasses.replace(bundled, builtin=False)
    assert parser_for(users, UTC)._gates is None
    assert parser_for(users, UTC).may_match("anything at all")
