"""Cuts (parsing/vectorized/cuts.py): wherever the strict pattern matches a line, Python's `re.match`
of the format's own pattern gives the groups the cut gives, on lines full of the delimiters."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logscope.parsing.registry import load_registry
from logscope.parsing.vectorized.cuts import cut_for, time_cut
from logscope.parsing.vectorized.times import time_plan

REGISTRY = load_registry(UTC)
FORMATS = {
    parser.name: parser.definition
    for parser in REGISTRY.ordered
    if parser.name in ("nginx_access", "access_common", "bsd_syslog", "openssh")
}
CON = duckdb.connect()
AWKWARD = ' "[]\\\t-/:+aZé0\x0b'


def _piece(alphabet: str, max_size: int = 5) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, max_size=max_size)


TOKENS = st.one_of(st.sampled_from(["-", "10.0.0.1", "frank", "a[b", 'q"t', "x\ty", "é"]), _piece(AWKWARD))
TIMES = st.one_of(
    st.sampled_from(
        ["20/Nov/2026:10:00:00 +0000", "31/Feb/2026:25:61:61 -0130", "20/Foo/2026:10:00:00 +0000"]
    ),
    st.sampled_from(["2/Nov/2026:10:00:00 +0000", "20/Nov/2026:10:00:00 Z", "20/Nov/2026:10:00:00  +0000"]),
    _piece("0123456789/:+ NovZ]", 27),
)
REQUESTS = st.one_of(
    st.sampled_from(
        ["GET / HTTP/1.1", "GET /a b c", "get /x", "-", "", "GET  /x", "GET /x ", 'GET /a"b HTTP/1.1']
    ),
    st.sampled_from(["POST /\ta HTTP/1.0", "GET /é HTTP/1.1", "GET /x HTTP/1.1 \\"]),
    _piece('GET /"\\ \tHTP1.', 12),
)
QUOTED = st.one_of(st.sampled_from(["-", "", "curl/8.5.0", 'a \\"b\\" c', "x\\", "é ✓"]), _piece(AWKWARD, 8))
NUMBERS = st.one_of(st.sampled_from(["200", "404", "-", "1" * 19, "20", "2000"]), _piece("0123456789- ", 4))
TAILS = st.one_of(st.sampled_from(["", " 0.003", ' "x" y', " ", "x", '"']), _piece(AWKWARD, 6))


@st.composite
def access_lines(draw) -> str:
    client, ident, user = draw(TOKENS), draw(TOKENS), draw(TOKENS)
    head = f'{client} {ident} {user} [{draw(TIMES)}] "{draw(REQUESTS)}" {draw(NUMBERS)} {draw(NUMBERS)}'
    return head + draw(st.sampled_from(["", " "])) + f' "{draw(QUOTED)}" "{draw(QUOTED)}"{draw(TAILS)}'


def cut_groups(name: str, lines: list[str]) -> list[dict[str, str] | None]:
    """Per line: None where the strict pattern does not match, else group -> (text, took part)."""
    definition = FORMATS[name]
    cut = cut_for(definition.patterns[0], definition.time_formats[0])
    assert cut is not None
    names = list(cut.groups)
    columns = ", ".join(
        [f"{sql} AS g{index}" for index, sql in enumerate(cut.groups.values())]
        + [f"{cut.participating.get(group, 'true')} AS t{index}" for index, group in enumerate(names)]
    )
    given = "SELECT unnest($1::VARCHAR[]) AS line, unnest(range(len($1))) AS n"
    head = cut.head_sql()
    if head is not None:
        given = f"SELECT *, {head} AS __head FROM ({given}) g"
    rows = CON.execute(
        f"SELECT {cut.fast_sql()}, {columns} FROM ({given}) lines ORDER BY n", [lines]
    ).fetchall()
    result: list[dict[str, str] | None] = []
    for row in rows:
        if not row[0]:
            result.append(None)
            continue
        texts, taking = row[1 : 1 + len(names)], row[1 + len(names) :]
        result.append(
            {group: (text if took else None) for group, text, took in zip(names, texts, taking, strict=True)}
        )
    return result


def python_groups(name: str, line: str) -> dict[str, str | None] | None:
    found = re.match(FORMATS[name].patterns[0], line)
    if found is None:
        return None
    # A group that took no part: None in Python; the cut gives '' (as RE2 does) for groups that
    # cannot match empty, and None through `participating` for those that can.
    return {key: value for key, value in found.groupdict().items()}


def check(name: str, lines: list[str]) -> int:
    """The number of lines the strict pattern matched (each checked against Python)."""
    matched = 0
    for line, cut in zip(lines, cut_groups(name, lines), strict=True):
        if cut is None:
            continue
        matched += 1
        python = python_groups(name, line)
        assert python is not None, line
        for group, text in cut.items():
            want = python[group]
            assert text == want or (want is None and text == ""), (line, group, text, want)
    return matched


GOOD = [
    '10.0.0.5 - - [26/Nov/2026:02:10:00 +0000] "POST /api/v1/items?x=1 HTTP/1.1" 502 - "-" "curl/8.5.0"',
    '10.0.0.6 - u [26/Nov/2026:02:10:01 -0700] "GET /q HTTP/1.1" 200 5 "-" "agent v1" 0.003 "x"',
    '::1 - - [26/Nov/2026:02:10:01 +0000] "-" 400 0 "é" "✓"',
    '::1 - - [26/Nov/2026:02:10:01 +0000] "GET /a b c" 400 0 "" "" ',
]


def test_usual_lines_are_cut_as_python_reads_them() -> None:
    assert check("nginx_access", GOOD) == len(GOOD)
    common = [
        '127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
        '192.0.2.9 - - [10/Oct/2000:13:55:37 -0700] "GET /missing HTTP/1.0" 404 -',
        '::1 - - [26/Nov/2026:02:10:01 +0000] "" 400 0',
    ]
    assert check("access_common", common) == len(common)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(access_lines(), min_size=40, max_size=40))
def test_cut_equals_python_on_awkward_lines(lines: list[str]) -> None:
    check("nginx_access", lines)
    check("access_common", lines)


def _strict(name: str) -> str:
    definition = FORMATS[name]
    cut = cut_for(definition.patterns[0], definition.time_formats[0])
    assert cut is not None
    return cut.strict


@pytest.mark.parametrize("name", ["nginx_access", "access_common", "bsd_syslog", "openssh"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_line_the_strict_pattern_describes_is_cut_as_python_reads_it(name: str, data) -> None:
    lines = data.draw(st.lists(st.from_regex(_strict(name), fullmatch=True), min_size=20, max_size=20))
    assert check(name, lines) == len(lines)


SYSLOG_GOOD = [
    "Nov 20 00:00:00 db-1 kernel: Failed password for invalid user admin from 203.0.113.79 port 5918 ssh2",
    "Nov 20 00:00:00 web-1 CRON[41103]: Accepted publickey for deploy from 10.0.10.14 port 63249 ssh2",
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186",
    "Jun 19 04:09:11 h sshd[1]: ",
    "Jun 19 04:09:11 h sshd[1]: é ✓ \x0b tab\there",
    "Jun 19 04:09:11 a:b app\\x[7]:  two spaces",
]
SYSLOG_PIECES = " :[]()0123456789aZé\t\x0b"
SYSLOG_TIMES = st.sampled_from(
    [
        "Nov 20 00:00:00",
        "Nov  5 00:00:00",
        "Nov 5 00:00:00",
        "nov 20 00:00:00",
        "Feb 31 25:61:61",
        "Nov 20 0:00:00",
    ]
)
SYSLOG_HOSTS = st.one_of(st.sampled_from(["db-1", "a:", ":", "a[b]", "", "é", "x y"]), _piece(SYSLOG_PIECES))
SYSLOG_TAGS = st.one_of(
    st.sampled_from(
        ["kernel", "CRON[1]", "sshd[24200]", "sshd(pam)[1]", "a b", "x[]", "p[" + "1" * 19 + "]"]
    ),
    _piece(SYSLOG_PIECES, 8),
)
SYSLOG_AFTER = st.sampled_from([": ", ":", ":  ", " (addr): ", "[1]: ", " ", ""])


@st.composite
def syslog_lines(draw) -> str:
    time, host, tag = draw(SYSLOG_TIMES), draw(SYSLOG_HOSTS), draw(SYSLOG_TAGS)
    return f"{time} {host} {tag}{draw(SYSLOG_AFTER)}{draw(_piece(SYSLOG_PIECES, 8))}"


def test_usual_syslog_lines_are_cut_as_python_reads_them() -> None:
    assert check("bsd_syslog", SYSLOG_GOOD) == len(SYSLOG_GOOD)
    assert check("openssh", SYSLOG_GOOD) == 3


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(syslog_lines(), min_size=40, max_size=40))
def test_syslog_cut_equals_python_on_awkward_lines(lines: list[str]) -> None:
    check("bsd_syslog", lines)
    check("openssh", lines)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_time_cut_equals_the_time_regex(data) -> None:
    """A text of the fixed-width shape: the time regex's groups are the cut's."""
    spec = data.draw(
        st.sampled_from(["%d/%b/%Y:%H:%M:%S %z", "%Y-%m-%dT%H:%M:%S", "%b %d %H:%M:%S", "%Y%m%d %I:%M %p"])
    )
    timed = time_cut(spec)
    assert timed is not None
    plan = time_plan(spec)
    for text in data.draw(st.lists(st.from_regex(timed.shape, fullmatch=True), min_size=10, max_size=10)):
        found = re.match(plan.regex, text)
        assert found is not None, (spec, text)
        for name, (offset, width) in timed.parts.items():
            assert found[name] == text[offset : offset + width], (spec, text, name)


VALID_SPECS = ["%d/%b/%Y:%H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]


def _strptime_us(texts: list[str], spec: str) -> list[int | None]:
    rows = CON.execute(
        "SELECT epoch_us(try_strptime(t, $2))"
        " FROM (SELECT unnest($1::VARCHAR[]) AS t, unnest(range(len($1))) AS n) ORDER BY n",
        [texts, spec],
    ).fetchall()
    return [row[0] for row in rows]


def _python_us(text: str, spec: str) -> int:
    parsed = datetime.strptime(text, spec)
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1_000_000)


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_every_valid_time_is_read_by_strptime_as_python_reads_it(data) -> None:
    """The valid shape (what makes a fast line's checks provable) admits only texts DuckDB's
    strptime reads, to Python's value."""
    spec = data.draw(st.sampled_from(VALID_SPECS))
    valid = time_cut(spec).valid
    texts = data.draw(st.lists(st.from_regex(valid, fullmatch=True), min_size=30, max_size=30))
    assert _strptime_us(texts, spec) == [_python_us(text, spec) for text in texts]


def test_valid_time_shape_is_every_day_of_every_month_and_every_offset() -> None:
    """Exhaustive over the parts the shape bounds: every day of a non-leap year but 29 Feb, every
    hour, minute and second, every offset within ±23:59; and the texts it refuses."""
    spec = "%d/%b/%Y:%H:%M:%S %z"
    valid = re.compile(time_cut(spec).valid)
    days = [date(2023, 1, 1) + timedelta(days=n) for n in range(365)]
    texts = [f"{day:%d/%b/%Y}:10:00:00 +0000" for day in days]
    texts += [f"01/Jan/2024:{h:02d}:{m:02d}:{m:02d} +0000" for h in range(24) for m in range(60)]
    texts += [
        f"01/Jan/2024:10:00:00 {sign}{h:02d}{m:02d}" for sign in "+-" for h in range(24) for m in range(60)
    ]
    texts += ["28/Feb/1000:00:00:00 +0000", "31/Dec/9999:23:59:59 -2359"]
    assert all(valid.fullmatch(text) for text in texts)
    assert _strptime_us(texts, spec) == [_python_us(text, spec) for text in texts]
    refused = ["29/Feb/2024:10:00:00 +0000", "29/Feb/2023:10:00:00 +0000", "31/Apr/2026:10:00:00 +0000"]
    refused += ["20/Nov/2026:24:00:00 +0000", "20/Nov/2026:10:60:00 +0000", "20/Nov/2026:10:00:60 +0000"]
    refused += ["20/Nov/0000:10:00:00 +0000", "20/Nov/2026:10:00:00 +2400", "20/Nov/2026:10:00:00 +0060"]
    refused += ["20/nov/2026:10:00:00 +0000", "00/Nov/2026:10:00:00 +0000", "32/Jan/2026:10:00:00 +0000"]
    assert not any(valid.fullmatch(text) for text in refused)


def test_no_valid_shape_without_a_day_and_month_or_with_a_two_digit_year() -> None:
    assert time_cut("%Y%m%d %I:%M %p").valid == ""
    assert time_cut("%d/%m/%y %H:%M").valid == ""
    assert time_cut("%Y-%m %H:%M").valid == ""


def test_year_less_valid_shape_is_every_day_but_29_february() -> None:
    """A year-less time (syslog) takes the inferred year: every day of every month is valid in
    any year but 29 Feb; the syslog heads hold their time to it."""
    valid = re.compile(time_cut("%b %d %H:%M:%S").valid)
    days = [date(2023, 1, 1) + timedelta(days=n) for n in range(365)]
    assert all(valid.fullmatch(f"{day:%b %d} 23:59:59") for day in days)
    refused = ["Feb 29 10:00:00", "Apr 31 10:00:00", "Nov 20 24:00:00", "Nov 20 10:00:60", "Nov 00 10:00:00"]
    assert not any(valid.fullmatch(text) for text in [*refused, "nov 20 10:00:00", "Nov  5 10:00:00"])
    for name in ("bsd_syslog", "openssh"):
        definition = FORMATS[name]
        cut = cut_for(definition.patterns[0], definition.time_formats[0])
        assert cut is not None and cut.valid_time
        assert not re.match(cut.strict, "Feb 29 10:00:00 h sshd[1]: x")


def test_time_cut_refuses_variable_widths() -> None:
    assert time_cut("%Y-%m-%d %H:%M:%S.%f") is None
    assert time_cut("%d %B %Y %H:%M") is None
    assert time_cut("%H1%M") is None
    assert time_cut("%d/%b/%Y:%H:%M:%S %z").width == 26
