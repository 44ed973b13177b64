"""Acceptance over the loghub corpus: share of lines parsed, and agreement with its ground truth.

The corpus (../shared/corpus/loghub, relative to the repository) holds for each system a 2000-line
log and a `_structured.csv` with one row per line. Times are checked with the stdlib's `strptime`
on the CSV's columns (an independent reading), levels through the level normalizer, and the
component / pid columns against the fields our formats name. Some CSV headers are mislabeled in
loghub (Linux's `Level` is the host, OpenSSH's `Component` is the host); the spec below compares
what the column holds, and docs/formats.md lists these.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from logscope.parsing.levels import normalize_level
from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import SourceParser
from logscope.parsing.time_values import us_to_datetime
from logscope.record import LineBatch, Record

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "loghub"
TARGET = 0.99

Row = dict[str, str]


@dataclass
class SystemSpec:
    """How one system's CSV columns map onto a parsed record."""

    time_columns: tuple[str, ...]
    time_format: str  # strptime format for the joined columns, or "epoch"
    yearless: bool = False
    level: str | None = None  # CSV column with the level
    host: str | None = None  # CSV column holding the host (whatever its header says)
    component: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # (CSV columns, our fields)
    pid: tuple[str, str] | None = None  # (CSV column, our field)
    checks: list[str] = field(default_factory=list)


SYSTEMS: dict[str, SystemSpec] = {
    "Android": SystemSpec(
        ("Date", "Time"),
        "%m-%d %H:%M:%S.%f",
        yearless=True,
        level="Level",
        component=(("Component",), ("tag",)),
        pid=("Pid", "pid"),
    ),
    "Apache": SystemSpec(("Time",), "%a %b %d %H:%M:%S %Y", level="Level"),
    "BGL": SystemSpec(
        ("Time",), "%Y-%m-%d-%H.%M.%S.%f", level="Level", component=(("Component",), ("component",))
    ),
    "HDFS": SystemSpec(
        ("Date", "Time"),
        "%y%m%d %H%M%S",
        level="Level",
        component=(("Component",), ("component",)),
        pid=("Pid", "pid"),
    ),
    "HPC": SystemSpec(("Time",), "epoch", component=(("Component",), ("component",))),
    "Hadoop": SystemSpec(
        ("Date", "Time"),
        "%Y-%m-%d %H:%M:%S,%f",
        level="Level",
        component=(("Process", "Component"), ("thread", "logger")),
    ),
    "HealthApp": SystemSpec(
        ("Time",), "%Y%m%d-%H:%M:%S:%f", component=(("Component",), ("component",)), pid=("Pid", "pid")
    ),
    "Linux": SystemSpec(
        ("Month", "Date", "Time"),
        "%b %d %H:%M:%S",
        yearless=True,
        host="Level",
        component=(("Component",), ("app",)),
        pid=("PID", "pid"),
    ),
    "Mac": SystemSpec(
        ("Month", "Date", "Time"),
        "%b %d %H:%M:%S",
        yearless=True,
        host="User",
        component=(("Component",), ("app",)),
        pid=("PID", "pid"),
    ),
    "OpenSSH": SystemSpec(
        ("Date", "Day", "Time"), "%b %d %H:%M:%S", yearless=True, host="Component", pid=("Pid", "pid")
    ),
    "OpenStack": SystemSpec(
        ("Date", "Time"),
        "%Y-%m-%d %H:%M:%S.%f",
        level="Level",
        component=(("Component",), ("logger",)),
        pid=("Pid", "pid"),
    ),
    "Proxifier": SystemSpec(("Time",), "%m.%d %H:%M:%S", yearless=True, component=(("Program",), ("app",))),
    "Spark": SystemSpec(
        ("Date", "Time"), "%y/%m/%d %H:%M:%S", level="Level", component=(("Component",), ("logger",))
    ),
    "Thunderbird": SystemSpec(
        ("Timestamp",), "epoch", host="User", component=(("Component",), ("app",)), pid=("PID", "pid")
    ),
    "Windows": SystemSpec(
        ("Date", "Time"), "%Y-%m-%d %H:%M:%S", level="Level", component=(("Component",), ("component",))
    ),
    "Zookeeper": SystemSpec(
        ("Date", "Time"),
        "%Y-%m-%d %H:%M:%S,%f",
        level="Level",
        component=(("Node", "Component"), ("thread", "logger")),
        pid=("Id", "line"),
    ),
}


def _expected_time(spec: SystemSpec, row: Row) -> datetime:
    text = " ".join(row[column] for column in spec.time_columns)
    if spec.time_format == "epoch":
        return datetime.fromtimestamp(int(text), UTC)
    if spec.yearless:  # strptime needs a year to accept 29 Feb; 2000 is a leap year
        return datetime.strptime(f"2000 {text}", f"%Y {spec.time_format}").replace(tzinfo=UTC)
    return datetime.strptime(text, spec.time_format).replace(tzinfo=UTC)


def _time_ok(spec: SystemSpec, row: Row, record: Record) -> bool:
    if record.ts is None:
        return False
    expected, parsed = _expected_time(spec, row), us_to_datetime(record.ts)
    if spec.yearless:
        parsed = parsed.replace(year=2000)
    return parsed == expected


def _field_text(record: Record, name: str) -> str:
    value = (record.fields or {}).get(name)
    return "" if value is None else str(value)


CheckFn = Callable[[SystemSpec, Row, Record], bool]
CHECKS: dict[str, tuple[Callable[[SystemSpec], bool], CheckFn]] = {
    "time": (lambda spec: True, _time_ok),
    "level": (
        lambda spec: spec.level is not None,
        lambda spec, row, record: record.level == normalize_level(row[spec.level or ""]),
    ),
    "host": (
        lambda spec: spec.host is not None,
        lambda spec, row, record: record.host == row[spec.host or ""],
    ),
    "component": (
        lambda spec: spec.component is not None,
        lambda spec, row, record: (
            ":".join(row[c] for c in spec.component[0])  # type: ignore[index]
            == ":".join(_field_text(record, f) for f in spec.component[1])
        ),  # type: ignore[index]
    ),
    "pid": (
        lambda spec: spec.pid is not None,
        lambda spec, row, record: row[spec.pid[0]] == _field_text(record, spec.pid[1]),  # type: ignore[index]
    ),
}


def _records_per_line(lines: list[str]) -> list[Record | None]:
    """Parse like a source would (detection included); one entry per input line."""
    parser = SourceParser(builtin_registry(UTC))
    records = parser.parse_batch(LineBatch("corpus", lines, final=True))
    per_line: list[Record | None] = []
    for record in records:
        joined = record.raw.count("\n") + 1
        per_line.append(record)
        per_line.extend([None] * (joined - 1))  # lines swallowed by a multiline join count as misses
    return per_line


def evaluate(system: str) -> dict[str, float | str]:
    """Shares for one system: parsed (non-raw) and each check that applies."""
    spec = SYSTEMS[system]
    folder = CORPUS / system
    lines = (folder / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
    with open(folder / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(lines), f"{system}: {len(rows)} CSV rows for {len(lines)} lines"
    records = _records_per_line(lines)
    result: dict[str, float | str] = {}
    parsed = [record for record in records if record is not None and record.format != "raw"]
    result["format"] = max({r.format for r in parsed}, key=lambda f: sum(r.format == f for r in parsed))
    result["parsed"] = len(parsed) / len(lines)
    for name, (applies, check) in CHECKS.items():
        if applies(spec):
            good = sum(
                1
                for row, record in zip(rows, records, strict=True)
                if record is not None and record.format != "raw" and check(spec, row, record)
            )
            result[name] = good / len(lines)
    return result


def _table(results: dict[str, dict[str, float | str]]) -> str:
    columns = ["parsed", *CHECKS]
    lines = [f"{'system':<12} {'format':<15} " + " ".join(f"{c:>9}" for c in columns)]
    for system, result in results.items():
        cells = [f"{result[c]:>9.2%}" if c in result else f"{'-':>9}" for c in columns]
        lines.append(f"{system:<12} {result['format']!s:<15} " + " ".join(cells))
    return "\n".join(lines)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"loghub corpus not present at {CORPUS}")
@pytest.mark.slow
def test_loghub_corpus_parsed_and_matches_ground_truth(capsys: pytest.CaptureFixture[str]) -> None:
    results = {system: evaluate(system) for system in SYSTEMS}
    with capsys.disabled():
        print("\n" + _table(results))
    below = {
        f"{system}.{key}": value
        for system, result in results.items()
        for key, value in result.items()
        if key != "format" and isinstance(value, float) and value < TARGET
    }
    assert not below, f"below {TARGET:.0%}: {below}"
