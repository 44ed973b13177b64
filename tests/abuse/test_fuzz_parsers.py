"""Issue 22: every parser over random bytes and random mutations of its samples (Hypothesis).

For each format (the code parsers and every built-in TOML format), bytes are cut into lines as a
source cuts them (sources/lines.py: invalid UTF-8 and NULs replaced), parsed with the format forced
as `--format` does, and written to a real (in-memory) DuckDB store. No exception may escape, and
every line must be stored, in order: a record's `raw` holds its line (multiline records hold
theirs joined by newlines). Each test is bounded (`max_examples`) to a few seconds per parser."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import SourceParser
from logscope.record import LineBatch, now_us
from logscope.sources.lines import LineSplitter
from logscope.store.database import MEMORY, open_for_writing
from logscope.store.writer import LogWriter

REGISTRY = builtin_registry(UTC)
PARSERS = [parser.name for parser in REGISTRY.ordered]
# The code parsers have no TOML samples: lines of the kinds they read (docs/sources.md, RFC 5424).
CODE_SAMPLES = {
    "json": ['{"ts":"2026-01-01T00:00:00Z","level":"error","msg":"payment failed","user":{"id":7}}'],
    "logfmt": ['ts=2026-01-01T00:00:00Z level=warn msg="disk almost full" free_mb=312 path=/var'],
    "syslog": [
        "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8",
        "Oct 11 22:14:15 web-1 sshd[4242]: Accepted publickey for deploy from 10.0.0.5 port 50122",
    ],
    "syslog5424": [
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"'
        ' eventSource="Application" eventID="1011"] An application event log entry'
    ],
}
# The header-driven formats and the generic fallback are code too: real files of theirs
# (tests/data/headers/README.md says where each came from) and a Python `logging` line.
HEADERS = Path(__file__).resolve().parent.parent / "data" / "headers"
CODE_SAMPLES |= {
    "w3c": [(HEADERS / "iis_hsphere.log").read_text()],
    "zeek": [(HEADERS / "zeek_conn.log").read_text()],
    "csv": ["ts,level,message\n2026-01-01T00:00:00Z,error,payment failed\n2026-01-01T00:00:01Z,info,ok"],
    "generic": [
        "2026-12-06 10:00:20,123 WARNING [MainThread] app.db:42 slow query took 1.2 s\n"
        'Traceback (most recent call last):\n  File "app.py", line 1, in <module>\nValueError: x'
    ],
    # One logs request of opentelemetry-proto's examples/logs.json, on one line.
    "otlp_json": [
        '{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":'
        '{"stringValue":"my.service"}}]},"scopeLogs":[{"scope":{"name":"my.library",'
        '"version":"1.0.0"},"logRecords":[{"timeUnixNano":"1544712660300000000",'
        '"observedTimeUnixNano":"1544712660300000000","severityNumber":10,'
        '"severityText":"Information","traceId":"5B8EFFF798038103D269B633813FC60C",'
        '"spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"}}]}]}]}'
    ],
}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure is reproducible, CI is stable
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def samples_of(name: str) -> list[str]:
    definition = REGISTRY.definitions.get(name)
    if definition is None:
        return CODE_SAMPLES[name]
    return ["\n".join(sample.lines) for sample in definition.samples]


def lines_of(data: bytes) -> list[str]:
    """The lines a file source makes of `data`."""
    splitter = LineSplitter()
    lines, _ = splitter.feed(data)
    tail, _ = splitter.flush()
    return lines + tail


class Store:
    """A real in-memory logscope database, written by the real writer."""

    def __init__(self) -> None:
        self.con = open_for_writing(MEMORY)
        self.writer = LogWriter(self.con)

    def store_and_read_back(self, name: str, lines: list[str]) -> list[str]:
        """Parse `lines` with format `name` forced, write the records, return the stored lines.
        A format that expands a line into records of their own (OTLP JSON files) stores each
        record's own JSON, not the line: such records read back as EXPANDED."""
        first = self.writer.next_id
        parser = SourceParser(REGISTRY, REGISTRY.get(name))
        records = parser.parse_batch(LineBatch("fuzz", lines, now_us(), None, None, final=True))
        self.writer.write(records)
        rows = self.con.execute("SELECT format, raw FROM logs WHERE id >= ? ORDER BY id", [first]).fetchall()
        if expands(name):
            return [EXPANDED if format == name else raw for format, raw in rows]
        return [line for (_, raw) in rows for line in raw.split("\n")]


EXPANDED = "<a record expanded from its line>"


def expands(name: str) -> bool:
    return getattr(REGISTRY.get(name), "expands", False)


def expected_lines(name: str, lines: list[str]) -> list[str]:
    """The lines as stored: each line itself, or for an expanding format one EXPANDED per record."""
    if not expands(name):
        return lines
    parser = REGISTRY.get(name)
    expected: list[str] = []
    for line in lines:
        count = len(parser.expand(line, "fuzz", None, 0))  # type: ignore[attr-defined]
        expected.extend([EXPANDED] * count if count else [line])
    return expected


@pytest.fixture(scope="module")
def store() -> Store:
    return Store()


# A mutation: (kind, where as a fraction of the length, bytes to put in).
MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "cut", "repeat"]),
    st.floats(min_value=0, max_value=1),
    st.binary(min_size=1, max_size=8)
    | st.sampled_from([b"\x00", b"\xff\xfe", b"\n", b"\r\n", b"\xc3", b'"', b"[", b"=", b"{"]),
)


def mutate(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, piece in mutations:
        at = int(where * len(data))
        if kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ piece[0]]) + data[at + 1 :]
        elif kind == "insert":
            data = data[:at] + piece + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + len(piece) :]
        elif kind == "cut":
            data = data[:at]
        elif kind == "repeat":
            data = data[:at] + data[at : at + 16] * 3 + data[at:]
    return data


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.slow
def test_random_bytes_are_stored_line_for_line(name: str, store: Store) -> None:
    @FUZZ
    @given(st.binary(max_size=600))
    def check(data: bytes) -> None:
        lines = lines_of(data)
        assert store.store_and_read_back(name, lines) == expected_lines(name, lines)

    check()


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.slow
def test_mutated_samples_are_stored_line_for_line(name: str, store: Store) -> None:
    samples = [sample.encode() for sample in samples_of(name)]

    @FUZZ
    @given(st.sampled_from(samples), st.lists(MUTATION, min_size=1, max_size=6))
    def check(sample: bytes, mutations: list[tuple[str, float, bytes]]) -> None:
        lines = lines_of(mutate(sample, mutations))
        assert store.store_and_read_back(name, lines) == expected_lines(name, lines)
        for line in lines:  # the parser alone: a result of the documented shape, or None
            parsed = REGISTRY.get(name).parse(line)
            assert parsed is None or (len(parsed) == 5 and isinstance(parsed[2], str))

    check()


@pytest.mark.parametrize("name", PARSERS)
def test_every_sample_still_parses_as_its_format(name: str) -> None:
    """The mutations start from lines the format reads (else they would prove little)."""
    for sample in samples_of(name):
        parser = SourceParser(REGISTRY, REGISTRY.get(name))
        batch = LineBatch("fuzz", sample.split("\n"), now_us(), None, None, final=True)
        assert any(record.format == name for record in parser.parse_batch(batch)), sample
