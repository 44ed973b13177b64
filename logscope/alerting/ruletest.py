"""`rules test`: unit tests for rules, like `promtool test rules`.

A test file names rule files, then tests: input lines at given event times and the
notifications (firing / renotify / resolved) expected from them, at which times.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from logscope.alerting.engine import RuleEngine
from logscope.alerting.lifecycle import NOTIFY_EVENTS, Change, iso
from logscope.alerting.loader import RuleProblem, RuleSet, load_paths, read_toml
from logscope.alerting.model import parse_duration
from logscope.errors import LogscopeError, not_utf8
from logscope.parsing.time_values import datetime_to_us, us_to_datetime
from logscope.record import Record, now_us
from logscope.store.database import MEMORY, open_for_writing

DEFAULT_START = "2026-01-01T00:00:00Z"
RECENT = 2 * 3600 * 1_000_000
_TIME_PLACEHOLDER = re.compile(r"\{(time|epoch|epoch_ms)(?::([^{}]*))?\}")


@dataclass
class Expected:
    rule: str
    event: str
    at: int
    group: dict[str, str] | None = None
    summary: str | None = None

    def describe(self) -> str:
        group = f" {_group_text(self.group)}" if self.group is not None else ""
        summary = f" summary={self.summary!r}" if self.summary is not None else ""
        return f"{iso(self.at)} {self.rule} {self.event}{group}{summary}"


@dataclass
class TestCase:
    name: str
    lines: list[tuple[int, str]]
    expected: list[Expected]
    format: str | None = None
    until: int | None = None


@dataclass
class TestResult:
    name: str
    missing: list[Expected] = field(default_factory=list)
    unexpected: list[Change] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not (self.missing or self.unexpected or self.error)

    def diff(self) -> list[str]:
        """`- ` expected but missing, `+ ` happened but not expected, in time order."""
        if self.error:
            return [f"  error: {self.error}"]
        rows = [(item.at, f"  - {item.describe()}") for item in self.missing]
        rows += [(change.at, f"  + {describe_change(change)}") for change in self.unexpected]
        return [text for _, text in sorted(rows, key=lambda row: row[0])]


def describe_change(change: Change) -> str:
    payload = change.payload
    return (
        f"{payload['at']} {payload['rule']} {change.event} {_group_text(payload['group'])}"
        f" summary={payload['summary']!r}"
    )


def _group_text(group: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{key}={value}" for key, value in group.items()) + "}"


class TestFileError(LogscopeError):
    def __init__(self, path: str, where: str, message: str) -> None:
        super().__init__(f"{path}: {where}: {message}", 2)


@dataclass
class TestFile:
    path: str
    rules: RuleSet
    only: list[str] | None
    tests: list[TestCase]


def load_test_file(path: str) -> TestFile:
    """Read and check a rule test file; errors (exit 2) name the file, the test and the key."""
    try:
        document = read_toml(path)
    except UnicodeDecodeError as exc:
        raise LogscopeError(f"{path}: {not_utf8(exc)}", 2) from None
    except OSError as exc:
        raise LogscopeError(f"{path}: cannot read: {exc.strerror}", 2) from None
    except tomllib.TOMLDecodeError as exc:
        raise LogscopeError(f"{path}: not valid TOML: {exc}", 2) from None
    for key in document:
        if key not in ("rule_files", "rules", "test"):
            raise TestFileError(path, key, "unknown key (expected rule_files, rules, [[test]])")
    base = os.path.dirname(os.path.abspath(path))
    rule_files = document.get("rule_files")
    if not isinstance(rule_files, list) or not rule_files or not all(isinstance(f, str) for f in rule_files):
        raise TestFileError(path, "rule_files", "required: a list of rule files, relative to this file")
    ruleset = load_paths([os.path.normpath(os.path.join(base, name)) for name in rule_files])
    only = document.get("rules")
    if only is not None:
        known = {rule.name for rule in ruleset.rules}
        for name in only:
            if name not in known:
                raise TestFileError(path, "rules", f"no rule {name!r} in the rule files")
    tests = document.get("test")
    if not isinstance(tests, list) or not tests:
        raise TestFileError(path, "test", "no [[test]] tables")
    return TestFile(
        path, ruleset, only, [_read_test(path, index, table) for index, table in enumerate(tests)]
    )


def _when(path: str, where: str, value: Any, start: int) -> int:
    """`+30s` (after the test's start) or an RFC 3339 time."""
    if isinstance(value, datetime):
        return datetime_to_us(value, UTC)
    if isinstance(value, str) and value.startswith("+"):
        offset = parse_duration(value[1:])
        if offset is not None:
            return start + offset
    if isinstance(value, str):
        try:
            return datetime_to_us(datetime.fromisoformat(value), UTC)
        except ValueError:
            pass
    raise TestFileError(path, where, f"expected +DURATION (like +90s) or an RFC 3339 time, got {value!r}")


def _read_test(path: str, index: int, table: Any) -> TestCase:
    if not isinstance(table, dict):
        raise TestFileError(path, f"test #{index + 1}", "must be a table")
    name = str(table.get("name") or f"#{index + 1}")
    where = f"test {name!r}"
    for key in table:
        if key not in ("name", "start", "format", "input", "expect", "until"):
            raise TestFileError(path, f"{where}: {key}", "unknown key")
    start = _start(path, where, table.get("start", DEFAULT_START))
    lines: list[tuple[int, str]] = []
    for number, item in enumerate(table.get("input", [])):
        lines += _read_input(path, f"{where}: input #{number + 1}", item, start)
    lines.sort(key=lambda entry: entry[0])
    expected = [
        _read_expect(path, f"{where}: expect #{n + 1}", item, start)
        for n, item in enumerate(table.get("expect", []))
    ]
    until = _when(path, f"{where}: until", table["until"], start) if "until" in table else None
    log_format = table.get("format")
    return TestCase(name, lines, expected, log_format, until)


def _start(path: str, where: str, value: Any) -> int:
    """The test's time zero; `now` is two hours ago (to the minute), for year-less syslog lines."""
    if value == "now":
        minute = 60_000_000
        return (now_us() - RECENT) // minute * minute
    return _when(path, f"{where}: start", value, 0)


def _read_input(path: str, where: str, item: Any, start: int) -> list[tuple[int, str]]:
    if not isinstance(item, dict):
        raise TestFileError(path, where, "must be a table with line or lines")
    for key in item:
        if key not in ("at", "every", "repeat", "line", "lines"):
            raise TestFileError(path, f"{where}: {key}", "unknown key")
    at = _when(path, f"{where}: at", item.get("at", "+0s"), start)
    every = parse_duration(str(item.get("every", "1s")))
    if every is None:
        raise TestFileError(path, f"{where}: every", "expected a duration like 1s")
    if "line" in item:
        repeat = item.get("repeat", 1)
        if not isinstance(repeat, int) or repeat < 1:
            raise TestFileError(path, f"{where}: repeat", "expected a positive integer")
        texts = [item["line"]] * repeat
    else:
        texts = item.get("lines")
        if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
            raise TestFileError(path, where, "needs line = '...' or lines = ['...']")
    return [(at + i * every, fill_time(text, at + i * every)) for i, text in enumerate(texts)]


def fill_time(line: str, at: int) -> str:
    """Put the line's event time into `{time}`, `{time:STRFTIME}`, `{epoch}` or `{epoch_ms}`."""
    moment = us_to_datetime(at)

    def fill(match: re.Match[str]) -> str:
        kind, spec = match.group(1), match.group(2)
        if kind == "epoch":
            return f"{at / 1_000_000:.6f}".rstrip("0").rstrip(".")
        if kind == "epoch_ms":
            return str(at // 1000)
        return moment.strftime(spec) if spec else iso(at) or ""

    return _TIME_PLACEHOLDER.sub(fill, line)


def _read_expect(path: str, where: str, item: Any, start: int) -> Expected:
    if not isinstance(item, dict):
        raise TestFileError(path, where, "must be a table")
    for key in item:
        if key not in ("rule", "event", "at", "group", "summary"):
            raise TestFileError(path, f"{where}: {key}", "unknown key")
    event = item.get("event", "firing")
    if event not in NOTIFY_EVENTS:
        raise TestFileError(path, f"{where}: event", f"one of: {', '.join(sorted(NOTIFY_EVENTS))}")
    if not isinstance(item.get("rule"), str):
        raise TestFileError(path, f"{where}: rule", "required: the rule's name")
    group = item.get("group")
    if group is not None and not isinstance(group, dict):
        raise TestFileError(path, f"{where}: group", "expected a table like { host = 'web1' }")
    at = _when(path, f"{where}: at", item.get("at"), start)
    group_text = {str(k): str(v) for k, v in group.items()} if group is not None else None
    return Expected(item["rule"], event, at, group_text, item.get("summary"))


# Stores a test's lines (event time µs, line; its format or None) in the database given, and yields
# each stored chunk of records with its Arrow table (pipeline/run.py's store_timed_lines).
StoreLines = Callable[
    [duckdb.DuckDBPyConnection, list[tuple[int, str]], str | None], Iterable[tuple[list[Record], Any]]
]


def run_test(case: TestCase, ruleset: RuleSet, format_types: dict[str, str], store: StoreLines) -> TestResult:
    """Feed the test's lines through the real parser, store and engine; compare notifications."""
    result = TestResult(case.name)
    con = open_for_writing(MEMORY)
    try:
        engine = RuleEngine(ruleset, store=con, format_types=format_types, on_error=_raiser(result))
        got: list[Change] = []
        engine.subscribe(lambda changes: got.extend(c for c in changes if c.event in NOTIFY_EVENTS))
        for chunk, table in store(con, case.lines, case.format):
            engine.on_records(chunk, table)
        if case.until is not None:
            engine.advance(case.until)
        engine.close()
    finally:
        con.close()
    if result.error:
        return result
    _compare(case.expected, got, result)
    return result


def _raiser(result: TestResult):
    def record(message: str) -> None:
        result.error = result.error or message

    return record


def _compare(expected: list[Expected], got: list[Change], result: TestResult) -> None:
    unmatched = list(got)
    for item in expected:
        found = next((change for change in unmatched if _matches(item, change)), None)
        if found is None:
            result.missing.append(item)
        else:
            unmatched.remove(found)
    result.unexpected = unmatched


def _matches(item: Expected, change: Change) -> bool:
    payload = change.payload
    if (item.rule, item.event, item.at) != (payload["rule"], change.event, change.at):
        return False
    if item.group is not None:
        group = {key: "" if value is None else str(value) for key, value in payload["group"].items()}
        if group != item.group:
            return False
    return item.summary is None or item.summary == payload["summary"]


def rules_under_test(ruleset: RuleSet, only: list[str] | None) -> RuleSet:
    """The rules a test file names (all by default), without actions: tests notify nobody."""
    rules = [rule for rule in ruleset.rules if only is None or rule.name in only]
    return RuleSet(rules, {}, [], ruleset.files)


def problems_text(problems: list[RuleProblem]) -> str:
    return "; ".join(str(problem) for problem in problems)
