"""A format's regex can never stall ingestion (issue 22 item 4, issue 16 "Detection stays fast and safe").

The reproduction: `^(a+)+$` on one line of 30 `a`s and a `b` took 61 s in `parse` and 64 s in
`ingest`. Such a pattern is now refused when the definition is loaded (`formats check`, and every
command that loads formats), a pattern that is merely polynomial runs under a time limit per
match, and every built-in pattern is shown linear on 1 MiB lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import regex
from conftest import assert_clean_error, query_db, run_cli

from logscope.parsing.loader import builtin_files, definitions_in
from logscope.parsing.regexsafety import MATCH_TIMEOUT, exponential_reason
from logscope.parsing.registry import builtin_registry

CATASTROPHIC = """
[[format]]
name = "aaa"
title = "The reproduction of issue 22 item 4"
patterns = ['^(a+)+$']

[[format.samples]]
line = "aaaa"
"""

POLYNOMIAL = """
[[format]]
name = "csvish"
title = "Three greedy fields: cubic backtracking on a line of commas without the final ;"
patterns = ['^(?P<a>.*),(?P<b>.*),(?P<message>.*);$']
message = "message"

[[format.samples]]
line = "x,y,hello;"
message = "hello"
"""


def _formats_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "formats"
    folder.mkdir()
    (folder / "mine.toml").write_text(text)
    return folder


def test_the_reproduction_is_refused_by_formats_check_in_seconds(tmp_path: Path) -> None:
    folder = _formats_dir(tmp_path, CATASTROPHIC)
    started = time.monotonic()
    result = run_cli("formats", "check", str(folder), timeout=60)
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "mine.toml: format 'aaa': field 'patterns[1]': may take exponential time" in result.stderr
    assert "possessive" in result.stderr


def test_the_reproduction_cannot_stall_ingest_or_parse(tmp_path: Path) -> None:
    folder = _formats_dir(tmp_path, CATASTROPHIC)
    log = tmp_path / "a.log"
    log.write_text("a" * 30 + "b\n")
    for args in (
        ("ingest", "--db", str(tmp_path / "x.duckdb"), "--formats", str(folder), str(log)),
        ("parse", "--formats", str(folder), str(log)),
    ):
        started = time.monotonic()
        result = run_cli(*args, timeout=60)
        assert time.monotonic() - started < 10
        assert_clean_error(result, 2)
        assert "exponential" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_a_polynomial_user_pattern_runs_under_a_time_limit(tmp_path: Path) -> None:
    """Cubic on a 1 MiB line of commas with `re` (hours); bounded by MATCH_TIMEOUT per line here,
    and every line is stored."""
    folder = _formats_dir(tmp_path, POLYNOMIAL)
    log = tmp_path / "c.log"
    lines = ["a,b,first;", "," * (1024 * 1024 - 10), "c,d,last;"]
    log.write_text("\n".join(lines) + "\n")
    db = tmp_path / "c.duckdb"
    started = time.monotonic()
    result = run_cli("ingest", "--db", str(db), "--formats", str(folder), str(log), timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 30, elapsed
    assert "a pattern took over" in result.stderr  # the user is told, once
    rows = query_db(db, "SELECT format, message FROM logs ORDER BY id")
    assert len(rows) == 3
    assert rows[0] == ("csvish", "first") and rows[2] == ("csvish", "last")
    assert rows[1][0] != "csvish"  # given up on for this format, kept all the same


def test_the_check_knows_safe_from_unsafe_repetitions() -> None:
    for unsafe in (r"^(a+)+$", r"^(a*)*$", r"^(\w+\s?)+$", r"^(.*)*x", r"^(?:[\w.]+\.)+com$"):
        assert exponential_reason(unsafe) is not None, unsafe
    for safe in (r"^(a++)+$", r"^(?>a+)+$", r"^(?:\s+\S+)*$", r"^(?:\[(?P<x>[^\]]*)\] )*(?P<m>.*)$"):
        assert exponential_reason(safe) is None, safe


DEFINITIONS = definitions_in(builtin_files())
MIB = 1024 * 1024


def _patterns() -> list[tuple[str, str, str]]:
    found = []
    for definition in DEFINITIONS:
        for number, pattern in enumerate(getattr(definition, "patterns", []), 1):
            sample = definition.samples[0].lines[0]
            found.append((f"{definition.name}[{number}]", pattern, sample))
        continuation = getattr(definition, "continuation", None)
        if continuation:
            found.append((f"{definition.name}.continuation", continuation, definition.samples[0].lines[-1]))
        for key in ("time_continuation", "level_continuation"):
            pattern = getattr(definition, key, None)
            if pattern:
                found.append((f"{definition.name}.{key}", pattern, definition.samples[0].lines[-1]))
    return found


def _hostile_lines(sample: str, size: int) -> list[str]:
    """Lines a backtracking engine finds hard: the sample padded, repeated, cut before its end,
    and runs of the characters patterns pivot on."""
    repeated = (sample + " ") * (size // (len(sample) + 1))
    lines = [sample + " " + "x" * size, repeated, sample[:-1] + "\x00" * size]
    head = sample[: max(1, len(sample) // 2)]
    for char in ' a0[],":.-=|/\t':
        lines.append(head + char * size)
        lines.append(char * size)
    return lines


@pytest.mark.parametrize(("name", "pattern", "sample"), _patterns(), ids=[name for name, _, _ in _patterns()])
@pytest.mark.slow
def test_every_bundled_pattern_is_linear_on_a_1_mib_line(name: str, pattern: str, sample: str) -> None:
    """Each hostile line of 1 MiB is decided in under 2 s (typically milliseconds), and 4x the text
    costs ~4x the time (under 10x allowed for noise on a shared machine; quadratic would be 16x,
    and anything under 0.125 s passes): no super-linear backtracking."""
    assert exponential_reason(pattern) is None, name
    compiled = regex.compile(pattern)

    def match(line: str) -> None:
        try:
            compiled.match(line, timeout=max(5.0, MATCH_TIMEOUT))
        except TimeoutError:
            pytest.fail(f"{name}: over 5 s on a {len(line):,}-character line starting {line[:40]!r}")

    assert_linear(name, match, _hostile_lines(sample, MIB // 4), _hostile_lines(sample, MIB))


def assert_linear(name: str, decide: Callable[[str], object], smalls: list[str], larges: list[str]) -> None:
    """Each large line is decided in under 2 s, and 4x the text costs under 10x the time
    (quadratic would be 16x; anything under 0.125 s passes)."""
    for small, large in zip(smalls, larges, strict=True):
        ratios = []
        for _ in range(3):  # a busy machine can slow one measurement: quadratic fails all three
            small_time = _timed(decide, small)
            large_time = _timed(decide, large)
            assert large_time < 2.0, (name, large[:40], large_time)
            ratios.append(large_time / max(small_time, 0.0125))
            if ratios[-1] < 10:
                break
        assert min(ratios) < 10, (name, large[:40], ratios)


def _timed(decide: Callable[[str], object], line: str) -> float:
    """The best of three runs (the machine is shared)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        decide(line)
        best = min(best, time.perf_counter() - started)
    return best


# The formats written in code (their regexes live in logscope/parsing/*.py, not in parsers/*.toml),
# each with a line of its own to make hostile lines from.
CODE_FORMAT_SAMPLES = {
    "generic": '2026-12-06T10:00:20Z level=info msg="hello"',
    "syslog": "Nov  3 09:23:38 host app[12]: hello world",
    "syslog5424": '<34>1 2026-10-11T22:14:15.003Z mymachine su 12 ID47 [ex@1 a="b"] hello',
    "logfmt": 'ts=2026-12-06T10:00:20Z level=info msg="hello" a=1',
    "json": '{"ts":"2026-12-06T10:00:20Z","msg":"x"}',
    "otlp_json": '{"resourceLogs":[]}',
    "csv": "a,b,c",
    "w3c": "2026-01-01 00:00:00 GET /",
    "zeek": "1.0\tx",
}


def _code_hostile_lines(sample: str, size: int) -> list[str]:
    """_hostile_lines, and runs the code parsers pivot on (keys, brackets, escaped quotes)."""
    head = sample[: max(1, len(sample) // 2)]
    extra = [head + char * size for char in "<>@{}\\'"]
    extra += [
        "2026-12-06T10:00:20Z " + "level=" * (size // 6),
        "Nov  3 09:23:38 " + "[a" * (size // 2),
        'a="' + '\\"' * (size // 2),
    ]
    return _hostile_lines(sample, size) + extra


@pytest.mark.parametrize("name", sorted(CODE_FORMAT_SAMPLES))
@pytest.mark.slow
def test_every_code_format_is_linear_on_a_1_mib_line(name: str) -> None:
    """As for the bundled patterns: each hostile 1 MiB line is parsed in under 2 s, and 4x the
    text costs under 10x the time (quadratic would be 16x; anything under 0.125 s passes)."""
    parser = builtin_registry(dt.UTC).get(name)
    sample = CODE_FORMAT_SAMPLES[name]

    def parse(line: str) -> None:
        with contextlib.suppress(Exception):  # refusing a hostile line is fine; taking long is not
            parser.parse(line)

    assert_linear(name, parse, _code_hostile_lines(sample, MIB // 4), _code_hostile_lines(sample, MIB))
