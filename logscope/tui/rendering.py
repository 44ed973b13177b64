"""How one record looks as a line: time, source, coloured level, message with fields highlighted."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, tzinfo

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

SOURCE_WIDTH = 14
TIME_FORMAT = "%m-%d %H:%M:%S"

# "key": in JSON, and key=value / key="quoted value" pairs (logfmt, access-log extras).
_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"(?=\s*:)')
_JSON_STRING = re.compile(r':\s*("(?:[^"\\]|\\.)*")')
_KEY_VALUE = re.compile(r'(?<![\w.-])([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|[^\s,;]*)')
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")

KEY_STYLE = "bold cyan"
VALUE_STYLE = "green"
NUMBER_STYLE = "magenta"
MATCH_STYLE = "bold black on yellow"


def format_time(ts_us: int, zone: tzinfo = UTC) -> str:
    moment = datetime.fromtimestamp(ts_us / 1_000_000, zone)
    return f"{moment.strftime(TIME_FORMAT)}.{moment.microsecond // 1000:03d}"


def short_source(source: str, width: int = SOURCE_WIDTH) -> str:
    """The source's last path part, cut to `width` (keeping its end, which tells files apart)."""
    if "://" in source:  # a listener: its address tells it apart
        name = source.split("://", 1)[1] or source
    else:
        name = os.path.basename(source.rstrip("/")) or source
    if len(name) > width:
        name = "…" + name[-(width - 1) :]
    return name.ljust(width)


def highlight_message(message: str, search: re.Pattern | None = None) -> Text:
    """The message with JSON keys/strings, key=value pairs and numbers styled, search hits marked."""
    text = Text(message, no_wrap=True, end="")
    if message.lstrip().startswith("{"):
        for match in _JSON_KEY.finditer(message):
            text.stylize(KEY_STYLE, match.start(), match.end())
        for match in _JSON_STRING.finditer(message):
            text.stylize(VALUE_STYLE, match.start(1), match.end(1))
    else:
        for match in _KEY_VALUE.finditer(message):
            text.stylize(KEY_STYLE, match.start(1), match.end(1))
            text.stylize(VALUE_STYLE, match.start(2), match.end(2))
    for match in _NUMBER.finditer(message):
        text.stylize(NUMBER_STYLE, match.start(), match.end())
    if search is not None:
        for match in search.finditer(message):
            if match.end() > match.start():
                text.stylize(MATCH_STYLE, match.start(), match.end())
    return text


def render_line(
    ts_us: int,
    source: str,
    level: str | None,
    message: str,
    zone: tzinfo = UTC,
    search: re.Pattern | None = None,
) -> Text:
    """One log-view line."""
    line = Text(no_wrap=True, end="")
    line.append(format_time(ts_us, zone), "blue")
    line.append(" ")
    line.append(short_source(source), "bright_black")
    line.append(" ")
    line.append(LEVEL_LABELS.get(level, (level or "-")[:5].upper()).ljust(5), LEVEL_STYLES.get(level, ""))
    line.append(" ")
    line.append_text(highlight_message(message.replace("\n", " ⏎ "), search))
    return line
