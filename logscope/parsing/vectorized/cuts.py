"""Fields cut by position where a strict pattern proves where they lie (`logscope query SQL FILE`).

RE2 extracting a format's groups runs its submatch engine over every line: most of the cost of
a scan (docs/benchmarks.md, "Querying files in place"). For a few common formats, a *strict*
pattern describes the usual lines: printable ASCII tokens, no escaped quotes, a time in its
fixed-width shape. Its DFA-only `regexp_full_match` is cheap, and on a line it matches, the
format's own Python pattern has exactly one way to match, whose groups lie between known
delimiters: DuckDB's `split_part`, `strpos` and `substr` cut them out, with no submatch engine.
Each column is its own expression, so DuckDB computes only the groups a query reads.

A strict pattern is written by hand for the exact pattern text of a format (a changed pattern has
none); tests/test_cuts.py checks, on generated lines full of the delimiters, that wherever the
strict pattern matches, Python's `re.match` gives the cut groups. Lines it does not match take the
plan's full RE2 extraction, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Fixed-width shapes of the strftime directives: (RE2 shape, width, the time regex's group).
_FIXED = {
    "Y": ("[0-9]{4}", 4, "year4"),
    "y": ("[0-9]{2}", 2, "year2"),
    "m": ("[0-9]{2}", 2, "month"),
    "d": ("[0-9]{2}", 2, "day"),
    "e": ("[0-9]{2}", 2, "day"),
    "b": ("[A-Za-z]{3}", 3, "month_abbr"),
    "h": ("[A-Za-z]{3}", 3, "month_abbr"),
    "H": ("[0-9]{2}", 2, "hour"),
    "I": ("[0-9]{2}", 2, "hour12"),
    "M": ("[0-9]{2}", 2, "minute"),
    "S": ("[0-9]{2}", 2, "second"),
    "p": ("[AaPp][Mm]", 2, "ampm"),
    "z": ("[+-][0-9]{4}", 5, "utc_offset"),
}


_SPECIAL = frozenset(".^$*+?{}[]\\|()")

# The directives whose texts a *valid* shape admits only where they make a time (no 31 Apr, no
# 29 Feb, no hour 24, no second 60, no year 0000, offsets within ±23:59): `valid` in TimeCut.
_VALID = {
    "Y": "[1-9][0-9]{3}",
    "H": "(?:[01][0-9]|2[0-3])",
    "M": "[0-5][0-9]",
    "S": "[0-5][0-9]",
    "z": "[+-](?:[01][0-9]|2[0-3])[0-5][0-9]",
}
# Per month length: the days, the month names (`%b`), the month numbers (`%m`). 29 Feb is left
# out (valid in leap years only): such lines take the exact path.
_MONTHS = (
    ("(?:0[1-9]|[12][0-9]|3[01])", "(?:Jan|Mar|May|Jul|Aug|Oct|Dec)", "(?:0[13578]|1[02])"),
    ("(?:0[1-9]|[12][0-9]|30)", "(?:Apr|Jun|Sep|Nov)", "(?:0[469]|11)"),
    ("(?:0[1-9]|1[0-9]|2[0-8])", "Feb", "02"),
)
_MONTH_PARTS = {"d": 0, "b": 1, "m": 2}


@dataclass(frozen=True)
class TimeCut:
    """A time format whose usual texts have one width: the RE2 shape of those texts and, per
    group of the format's time regex (times.py long names), its offset and width in them."""

    shape: str
    width: int
    parts: dict[str, tuple[int, int]]
    # The part of `shape` holding only valid times, each of which DuckDB's `strptime` reads as
    # Python does (in_place_cut.py), or '' (a directive it cannot bound, or no day and month).
    valid: str = ""

    def struct_sql(self, text: str) -> str:
        """The struct the time regex gives for `text` (a text of `shape`), cut by position."""
        items = ", ".join(
            f"{name} := substr({text}, {offset + 1}, {width})" for name, (offset, width) in self.parts.items()
        )
        return f"struct_pack({items})"


def time_cut(spec: str) -> TimeCut | None:
    """The fixed-width form of a strftime `spec`, or None (names, `%f`, `%Z`, `%B`, `%s`...)."""
    shape, parts, offset, index = [], {}, 0, 0
    valid: list[str | int] = []
    while index < len(spec):
        char = spec[index]
        if char == "%":
            directive = spec[index + 1 : index + 2]
            fixed = _FIXED.get(directive)
            if fixed is None:
                return None
            regex, width, name = fixed
            if name in parts:
                return None
            shape.append(regex)
            valid.append(_VALID.get(directive, _MONTH_PARTS.get(directive, "")))
            parts[name] = (offset, width)
            offset += width
            index += 2
            continue
        if not (char.isascii() and char.isprintable()) or char.isdigit():
            return None  # a digit beside `\d{1,2}` could move the time regex's cut
        shape.append(f"\\{char}" if char in _SPECIAL else char)
        valid.append(shape[-1])
        offset += 1
        index += 1
    return TimeCut("".join(shape), offset, parts, _valid_shape(valid, parts))


def _valid_shape(pieces: list[str | int], parts: dict[str, tuple[int, int]]) -> str:
    """The valid form of a shape (`pieces`: per directive its bounded regex, the index in
    `_MONTHS` of the day's or month's regex, '' where it has none), one alternative per month
    length."""
    # No year: it is inferred (times.py `year_map_sql`), a real year, so every day but 29 Feb is
    # valid in it. A two-digit year has no bounded form here.
    if "" in pieces or "day" not in parts or "year2" in parts:
        return ""
    if ("month" in parts) == ("month_abbr" in parts):
        return ""
    choices = [
        "".join(months[piece] if isinstance(piece, int) else piece for piece in pieces) for months in _MONTHS
    ]
    return "(?:" + "|".join(choices) + ")"


@dataclass(frozen=True)
class Cut:
    """A strict pattern (RE2, full match, no groups) and, for a line it matches, SQL over `line`
    giving each group's text ('' where it took no part, as `regexp_extract` gives) and whether a
    group that may match empty took part."""

    strict: str
    groups: dict[str, str]
    participating: dict[str, str]
    time_text: str  # SQL: the time group's text (the time cut's shape)
    digits: frozenset[str] = frozenset()  # groups the strict pattern holds to 1-18 ASCII digits (or `-`)
    # An RE2 pattern with named groups matching the start of the strict lines, where the rest of
    # the line needs no check: one anchored `regexp_extract` (column `__head`, which `groups`
    # read) both tells a strict line and cuts it, and stops at the end of the head.
    head: str = ""
    valid_time: bool = False  # the strict pattern holds the time to `TimeCut.valid`

    def head_sql(self) -> str | None:
        """SQL over `line`: the head's struct (`__all` '' where it does not match), or None."""
        if not self.head:
            return None
        names = ["__all", *re.findall(r"\(\?P<(\w+)>", self.head)]
        listed = ", ".join(_literal(name) for name in names)
        return f"regexp_extract(line, {_literal(f'^(?P<__all>{self.head})')}, [{listed}])"

    def fast_sql(self) -> str:
        """SQL: whether the line is a strict one (over `line`, and `__head` where there is a head)."""
        if self.head:
            return "__head.__all <> ''"
        return f"regexp_full_match(line, {_literal(self.strict)})"


# Tokens of `\S+` in the strict form: printable ASCII without space, `"`, `[` or `]` (so the
# first `[` and `"` of a line are the time's and the request's).
_TOKEN = r"[!#-Z\\^-~]+"
_REQUEST_ALT1 = r"[A-Z]+ [!#-~]+(?: [!#-~]+)?"
_NGINX_COMBINED = (
    r"""^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?P<method>[A-Z]+)"""
    r""" (?P<path>\S+)(?: (?P<protocol>[^"\s]+))?|[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-)"""
    r""" "(?P<referer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<user_agent>[^"\\]*(?:\\.[^"\\]*)*)"(?: (?P<extra>.*))?$"""
)
_COMMON = (
    r"""^(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?P<method>[A-Z]+)"""
    r""" (?P<path>\S+)(?: (?P<protocol>[^"\s]+))?|[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-)\s*$"""
)


# `[0-9]{3}` and `(?:[0-9]{1,18}|-)` in the strict form: a BIGINT holds them.
_DIGITS = frozenset({"status", "bytes"})


def _access_prefix(time: TimeCut) -> tuple[str, dict[str, str]]:
    """The strict form and the cuts shared by the combined and common formats, up to `bytes`."""
    numbers = "[0-9]{3} (?:[0-9]{1,18}|-)"
    strict = f'{_TOKEN} {_TOKEN} {_TOKEN} \\[{time.valid or time.shape}\\] "[ !#-~]*" {numbers}'
    request = "split_part(line, '\"', 2)"
    alt1 = f"regexp_full_match({request}, {_literal(_REQUEST_ALT1)})"
    numbers = "split_part(line, '\"', 3)"  # ' <status> <bytes> '
    groups = {
        "client": "split_part(line, ' ', 1)",
        "ident": "split_part(line, ' ', 2)",
        "user": "split_part(line, ' ', 3)",
        "time": f"substr(line, strpos(line, '[') + 1, {time.width})",
        "request": request,
        "method": f"CASE WHEN {alt1} THEN split_part({request}, ' ', 1) ELSE '' END",
        "path": f"CASE WHEN {alt1} THEN split_part({request}, ' ', 2) ELSE '' END",
        "protocol": f"CASE WHEN {alt1} THEN split_part({request}, ' ', 3) ELSE '' END",
        "status": f"substr({numbers}, 2, 3)",
        "bytes": f"split_part({numbers}, ' ', 3)",
    }
    return strict, groups


def _nginx_combined(time: TimeCut) -> Cut:
    prefix, groups = _access_prefix(time)
    # After the user agent's closing quote (the 6th: no part holds one), the rest is `extra`.
    quotes = " + ".join(f"length(split_part(line, '\"', {part}))" for part in range(1, 7))
    after = f"({quotes} + 6)"
    groups |= {
        "referer": "split_part(line, '\"', 4)",
        "user_agent": "split_part(line, '\"', 6)",
        "extra": f"substr(line, {after} + 2)",
    }
    participating = {
        "request": "true",
        "referer": "true",
        "user_agent": "true",
        "extra": f"length(line) > {after}",
    }
    strict = f'{prefix} "[^"\\\\]*" "[^"\\\\]*"(?: .*)?'
    return Cut(strict, groups, participating, groups["time"], _DIGITS, valid_time=bool(time.valid))


def _common(time: TimeCut) -> Cut:
    prefix, groups = _access_prefix(time)
    return Cut(prefix, groups, {"request": "true"}, groups["time"], _DIGITS, valid_time=bool(time.valid))


# BSD syslog text files (parsers/systems.toml): `Mmm dd hh:mm:ss host app[pid]: message`.
_BSD_SYSLOG = (
    r"^(?P<time>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d) (?:(?P<host>\S*[^\s:]) +)?(?:(?P<app>[^\[\]:]+?"
    r"|[^\[\]:]*\[[^\]]*\][^\[\]:]*?)(?:\[(?P<pid>\d+)\])?(?: \((?P<address>[^)]*)\))?: ?)?(?P<message>.*)$"
)
_OPENSSH = (
    r"^(?P<time>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d) (?P<host>\S+) (?P<app>sshd(?:\([^)]*\))?)"
    r"\[(?P<pid>\d+)\]: (?P<message>.*)$"
)
# The usual head of a syslog line: a year-less time with a two-digit day (`Nov  5`, whose two
# spaces the patterns also read, is left to the extraction), a host token, a tag without spaces,
# brackets or colons, an optional pid of ASCII digits, then `: `. The message is the rest, any
# text (`.*` reads every character of a line alike in `re` and RE2, and the inferred level's
# patterns are exact on any text).
_SYSLOG_TIME = "[A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
_SYSLOG_PID = r"\[(?P<pid>[0-9]{1,18})\]"
_SYSLOG_GROUPS = {
    "time": "__head.time",
    "host": "__head.host",
    "app": "__head.app",
    "pid": "__head.pid",
    "message": "substr(line, length(__head.__all) + 1)",  # the head is ASCII: characters are bytes
}


def _bsd_syslog(time: TimeCut) -> Cut | None:
    r"""On a line with this head, the host is the whole token (greedy `\S*[^\s:]`, and the rest
    always matches), the lazy `app` stops at the first `[` or `:` (its first alternative), the pid
    is taken, there is no `(address)`, ` ?` takes the space after the colon."""
    if time.width != 15:
        return None
    head = rf"{_syslog_time(time)} (?P<host>[!-~]*[!-9;-~]) (?P<app>[!-9;-Z\\^-~]+)(?:{_SYSLOG_PID})?: "
    groups = {**_SYSLOG_GROUPS, "address": "''"}
    valid = bool(time.valid)
    return Cut(_unnamed(head) + ".*", groups, {"address": "false"}, groups["time"], _PID, head, valid)


def _openssh(time: TimeCut) -> Cut | None:
    if time.width != 15:
        return None
    head = rf"{_syslog_time(time)} (?P<host>[!-~]+) (?P<app>sshd){_SYSLOG_PID}: "
    groups = dict(_SYSLOG_GROUPS)
    return Cut(_unnamed(head) + ".*", groups, {}, groups["time"], _PID, head, bool(time.valid))


def _syslog_time(time: TimeCut) -> str:
    """The head's time group: only valid times where the spec has a valid shape (then a fast
    line's time passes the time plan's checks: in_place_cut.py `proves`)."""
    return f"(?P<time>{time.valid or _SYSLOG_TIME})"


def _unnamed(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


_PID = frozenset({"pid"})
_CUTS = {_NGINX_COMBINED: _nginx_combined, _COMMON: _common, _BSD_SYSLOG: _bsd_syslog, _OPENSSH: _openssh}


def cut_for(pattern: str, time_spec: str | None) -> Cut | None:
    """The cut for a format's `pattern` (its text as written) and time format, or None."""
    make = _CUTS.get(pattern)
    time = time_cut(time_spec) if time_spec else None
    if make is None or time is None:
        return None
    return make(time)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
