"""How one record looks as a line: time, source, coloured level, and what the log line said.

The line is rebuilt from the record, and nothing the log line carried is left out: the host and
program (`web-1 sshd[2109]:`), the message, then every parsed field the message does not already
show as `key=value` (an nginx line's client, status, bytes and agent; a JSON line's keys beyond
`msg`). `store.DISPLAY_SQL` builds the same text in SQL, so a search finds what is on screen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import orjson
from rich.text import Text

LEVEL_STYLES: dict[str | None, str] = {
    "trace": "dim",
    "debug": "bright_black",
    "info": "green",
    "notice": "cyan",
    "warning": "yellow",
    "error": "bold red",
    "critical": "bold white on red",
    "fatal": "bold white on dark_red",
    None: "dim",
}
LEVEL_LABELS: dict[str | None, str] = {
    "trace": "TRACE",
    "debug": "DEBUG",
    "info": "INFO",
    "notice": "NOTE",
    "warning": "WARN",
    "error": "ERROR",
    "critical": "CRIT",
    "fatal": "FATAL",
    None: "-",
}
SEVERITY_STYLES = {"critical": "bold white on red", "error": "bold red", "warning": "yellow", "info": "cyan"}

TIME_FORMAT = "%m-%d %H:%M:%S"
SHORT_TIME_FORMAT = "%H:%M:%S"
# Fields shown before the message as `app[pid]:`, the way syslog writes them.
PROGRAM_KEY, PID_KEY = "app", "pid"
# Formats whose message comes from a key of its own: none of their fields is part of the message.
KEYED_MESSAGE_FORMATS = ("json", "logfmt")

TIME_STYLE = "blue"
SOURCE_STYLE = "cyan"
HOST_STYLE = "bold"
KEY_STYLE = "cyan"
MATCH_STYLE = "bold black on yellow"


@dataclass(frozen=True, slots=True)
class Columns:
    """The widths of the fixed columns before the message, chosen for the view's width."""

    source_width: int = 16
    short_time: bool = False

    @property
    def width(self) -> int:
        """Time, source and level columns with their spaces."""
        return (8 if self.short_time else 18) + 1 + self.source_width + 1 + 5 + 1


def columns_for(view_width: int, labels: Iterable[str]) -> Columns:
    """Narrow terminals get a shorter time and source; the source column fits the longest label."""
    cap = 24 if view_width >= 140 else 16 if view_width >= 100 else 10
    longest = max((len(label) for label in labels), default=6)
    return Columns(source_width=max(6, min(cap, longest)), short_time=view_width < 100)


def format_time(ts_us: int, zone: tzinfo = UTC, short: bool = False) -> str:
    moment = datetime.fromtimestamp(ts_us / 1_000_000, zone)
    if short:
        return moment.strftime(SHORT_TIME_FORMAT)
    return f"{moment.strftime(TIME_FORMAT)}.{moment.microsecond // 1000:03d}"


def _name(source: str) -> str:
    if "://" in source:  # a listener: its address tells it apart
        return source.split("://", 1)[1] or source
    return source.rstrip("/") or source


def source_labels(sources: Iterable[str]) -> dict[str, str]:
    """For each source the fewest trailing path parts that tell it from the others
    (`app.log`, or `a/app.log` and `b/app.log` when two directories hold an app.log)."""
    names = {source: _name(source) for source in sources}
    labels: dict[str, str] = {}
    depth = 1
    pending = dict(names)
    while pending:
        cut = {source: "/".join(name.split("/")[-depth:]) for source, name in pending.items()}
        seen: dict[str, int] = {}
        for label in cut.values():
            seen[label] = seen.get(label, 0) + 1
        done = {s: label for s, label in cut.items() if seen[label] == 1 or label == pending[s]}
        labels.update(done)
        pending = {s: name for s, name in pending.items() if s not in done}
        depth += 1
    return labels


def fit(label: str, width: int) -> str:
    """`label` in `width` cells: cut in the middle, keeping its start and its end."""
    if len(label) <= width:
        return label.ljust(width)
    head = (width - 1) // 2
    return label[:head] + "…" + label[len(label) - (width - 1 - head) :]


def short_source(source: str, width: int = 16) -> str:
    """The source's file name (or a listener's address), fitted to `width`."""
    return fit(os.path.basename(_name(source)) or source, width)


def _value_text(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return f'"{text}"' if " " in text else text


def display_pairs(host: str | None, message: str | None, fields: str | None, fmt: str) -> tuple[str, list]:
    """The prefix (`host app[pid]:`) and the fields shown after the message, as (key, value)."""
    parsed = orjson.loads(fields) if fields else {}
    if not isinstance(parsed, dict):
        parsed = {}
    prefix = [host] if host else []
    program = parsed.get(PROGRAM_KEY)
    if program is not None:
        pid = parsed.get(PID_KEY)
        prefix.append(f"{_plain(program)}{'' if pid is None else f'[{_plain(pid)}]'}:")
    tokens = set((message or "").split(" ")) if fmt not in KEYED_MESSAGE_FORMATS else set()
    pairs = []
    for key, value in parsed.items():
        if (key in (PROGRAM_KEY, PID_KEY) and program is not None) or value is None:
            continue
        if _plain(value) in tokens:  # part of the message already (an nginx request's path)
            continue
        pairs.append((key, _value_text(value)))
    return " ".join(prefix), pairs


def _plain(value: object) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def display_text(host: str | None, message: str | None, fields: str | None, fmt: str) -> str:
    """What the view shows after the level: the text a search looks through."""
    prefix, pairs = display_pairs(host, message, fields, fmt)
    parts = [prefix] if prefix else []
    parts.append((message or "").replace("\n", " ⏎ "))
    parts += [f"{key}={value}" for key, value in pairs]
    return " ".join(parts)


def styled_message(
    host: str | None, message: str | None, fields: str | None, fmt: str, search: re.Pattern | None = None
) -> Text:
    """The displayed text with the host bold, field keys coloured and search hits marked."""
    prefix, pairs = display_pairs(host, message, fields, fmt)
    text = Text(no_wrap=True, end="")
    if prefix:
        text.append(prefix, HOST_STYLE)
        text.append(" ")
    text.append((message or "").replace("\n", " ⏎ "))
    for key, value in pairs:
        text.append(" ")
        text.append(key, KEY_STYLE)
        text.append("=" + value)
    if search is not None:
        plain = text.plain
        for match in search.finditer(plain):
            if match.end() > match.start():
                text.stylize(MATCH_STYLE, match.start(), match.end())
    return text


def field_lines(fields: str | None) -> list[Text]:
    """A record's fields pretty-printed, one `key = value` a line (nested values and multi-line
    text over several), keys aligned: what lnav's `p` shows under the current line."""
    parsed = orjson.loads(fields) if fields else {}
    if not isinstance(parsed, dict) or not parsed:
        return [Text("(no fields)", "dim", end="")]
    width = max(len(key) for key in parsed)
    lines = []
    for key, value in parsed.items():
        shown = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        first, *rest = shown.split("\n")
        line = Text(end="")
        line.append(key.ljust(width), KEY_STYLE)
        line.append(" = " + first)
        lines.append(line)
        lines += [Text(" " * (width + 3) + more, end="") for more in rest]
    return lines


def line_columns(
    ts_us: int, source_label: str, level: str | None, zone: tzinfo, columns: Columns = Columns()
) -> Text:
    """The fixed columns before the message: time, source, level."""
    line = Text(no_wrap=True, end="")
    line.append(format_time(ts_us, zone, columns.short_time), TIME_STYLE)
    line.append(" ")
    line.append(fit(source_label, columns.source_width), SOURCE_STYLE)
    line.append(" ")
    label = LEVEL_LABELS.get(level, (level or "-")[:5].upper())
    line.append(label.ljust(5), LEVEL_STYLES.get(level, ""))
    line.append(" ")
    return line


def render_line(
    row,
    zone: tzinfo = UTC,
    search: re.Pattern | None = None,
    source_label: str | None = None,
    columns: Columns = Columns(),
) -> Text:
    """One log-view line for a Row (time, source, level, the displayed text)."""
    label = source_label if source_label is not None else os.path.basename(_name(row.source))
    line = line_columns(row.ts, label, row.level, zone, columns)
    line.append_text(styled_message(row.host, row.message, row.fields, row.format, search))
    return line
