"""A format definition proposed from a file's lines, for `logscope formats detect` when no format
fits the whole file but most lines share a shape: a leading time (in a layout `generic` reads and
a strftime pattern can spell), then a few words of the same kind on every line (a level, a
`[bracketed]` part, a number, a `name:`, a constant separator), then the message.

The proposal is checked before it is shown: it loads as a definition, its samples (real lines of
the file, with what the proposal itself reads from them) pass, and it matches most lines.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from logscope.errors import LogscopeError
from logscope.parsing.check import check_definition
from logscope.parsing.definition import load_definitions
from logscope.parsing.leadtime import LeadingTime
from logscope.parsing.levels import normalize_level
from logscope.parsing.regexformat import RegexFormat
from logscope.parsing.time_formats import pattern_to_regex
from logscope.parsing.time_values import us_to_datetime

# A proposal needs this share of the lines that start a record to share its time layout and match.
MIN_SHARE = 0.6
_MAX_TOKENS = 4
_DECORATION = "[](){}<>:|,;"
# A source location: `git.c:460`, `compat/linux/procinfo.c:170`, `main.go:12:`.
_LOCATION = re.compile(r"[^\s:\[\]]+\.\w+:\d+:?")


@dataclass
class Proposal:
    """A proposed definition and how much of the file it reads."""

    toml: str
    matched: int  # lines that begin a record and the proposal reads
    records: int  # lines that begin a record (a leading time)


def propose(lines: list[str], name: str) -> Proposal | None:
    """A definition for the shape most of `lines` share, or None when they share none."""
    reader = LeadingTime(UTC)
    timed = []
    for line in lines:
        found = reader.find(line, want_spec=True)
        if found is not None and found.spec and (found.lead is not None or found.start <= 1):
            shape = _time_shape(line, found.start, found.end, found.spec)
            if shape is not None:
                timed.append((line, found, shape))
    if len(timed) < max(2, MIN_SHARE * len(lines) / 2):
        return None
    shape, count = Counter(shape for _, _, shape in timed).most_common(1)[0]
    shaped = [(line, found) for line, found, line_shape in timed if line_shape == shape]
    if count < MIN_SHARE * len(timed):
        return None
    spec = shape[1]
    rests = [line[found.end :] for line, found in shaped]
    pattern, types = _pattern(shape, rests)
    multiline = len(timed) < len(lines)
    toml = _toml(name, pattern, spec, types, multiline, [line for line, _ in shaped])
    if toml is None:
        return None
    (definition,) = load_definitions(toml, f"{name}.toml")
    parser = RegexFormat(definition, UTC)
    matched = sum(parser.parse(line) is not None for line, _, _ in timed)
    if matched < MIN_SHARE * len(timed):
        return None
    return Proposal(toml, matched, len(timed))


def _time_regex(spec: str) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern_to_regex(spec))


def _time_shape(line: str, start: int, end: int, spec: str) -> tuple[str, str, str] | None:
    """(the regex of what precedes the time, the time's pattern, the text right after it): a
    constant word before the time (`update-alternatives 2025-06-24 ...`) is kept as written, a
    number (a pid) as a group, a bracket as a bracket."""
    written = re.compile(_time_regex(spec)).match(line, start)
    if written is None:
        return None
    prefix, closing = line[:start], line[written.end() : end]
    spaced = " +" if prefix.endswith(" ") else ""
    word = prefix.rstrip(" :").strip("[]")
    if not word.isdigit():
        return re.escape(prefix.rstrip(" ")) + spaced, spec, closing
    before, _, after = prefix.partition(word)
    return re.escape(before) + "(?P<pid>\\d+)" + re.escape(after.rstrip(" ")) + spaced, spec, closing


def _pattern(shape: tuple[str, str, str], rests: list[str]) -> tuple[str, dict[str, str]]:
    lead, spec, closing = shape
    parts = [f"^{lead}(?P<time>{_time_regex(spec)}){re.escape(closing)}"]
    types: dict[str, str] = {"pid": "int"} if "(?P<pid>" in lead else {}
    used: set[str] = set(types)
    tokens = [rest.split(None, _MAX_TOKENS) for rest in rests]
    for index in range(_MAX_TOKENS):
        column = [row[index] for row in tokens if len(row) > index + 1]
        if len(column) < 0.9 * len(rests):
            break
        piece = _column_regex(column, used, types)
        if piece is None:
            break
        parts.append(" *" if index == 0 and rests[0][:1] not in (" ", "\t") else " +")
        parts.append(piece)
    parts.append(" +(?P<message>.*)$" if len(parts) > 1 else " *(?P<message>.*)$")
    return "".join(parts), types


def _column_regex(column: list[str], used: set[str], types: dict[str, str]) -> str | None:
    """The regex for one word position, when (nearly) every line has the same kind there."""
    kinds = Counter(_kind(token) for token in column)
    kind, count = kinds.most_common(1)[0]
    if count < 0.9 * len(column) or kind == "word":
        return None
    sample = next(token for token in column if _kind(token) == kind)
    if kind == "literal":
        return re.escape(sample)
    core = sample.strip(_DECORATION)
    start = sample.index(core) if core else 0
    before, after = re.escape(sample[:start]), re.escape(sample[start + len(core) :])
    if kind == "level":
        used.add("level")
        return f"{before}(?P<level>[A-Za-z]+){after}"
    if kind == "int":
        name = _fresh("pid", used)
        types[name] = "int"
        return f"{before}(?P<{name}>\\d+){after}"
    if kind == "label":
        name = _fresh("logger", used)
        return f"(?P<{name}>[^\\s:]+):"
    if kind == "location":
        name = _fresh("source", used)
        return f"(?P<{name}>[^\\s:]+:\\d+){after}"
    name = _fresh("context", used)
    return f"\\[(?P<{name}>[^\\]]*)\\]"


def _kind(token: str) -> str:
    core = token.strip(_DECORATION)
    if len(set(token)) == 1 and not token[0].isalnum():
        return "literal"
    if core and core.isalpha() and normalize_level(core) is not None and (core.isupper() or core != token):
        return "level"
    if core.isdigit():
        return "int"
    if token.startswith("[") and token.endswith("]") and "]" not in token[1:-1]:
        return "bracket"
    if token.endswith(":") and len(token) > 1 and ":" not in token[:-1]:
        return "label"
    if _LOCATION.fullmatch(token):
        return "location"
    return "word"


def _fresh(base: str, used: set[str]) -> str:
    name, number = base, 2
    while name in used:
        name, number = f"{base}{number}", number + 1
    used.add(name)
    return name


def _toml(
    name: str, pattern: str, spec: str, types: dict[str, str], multiline: bool, lines: list[str]
) -> str | None:
    head = [
        "# Proposed by `logscope formats detect`: check it, rename it, then save it as",
        f"# ~/.config/logscope/formats/{name}.toml (or pass its directory with --formats).",
        "[[format]]",
        f'name = "{name}"',
        f'title = "{name} (proposed from a sample of its lines)"',
        "priority = 55",
        f"patterns = ['''{pattern}''']",
        f'time = {{ field = "time", formats = ["{spec}"] }}',
    ]
    if "(?P<level>" in pattern:
        head.append('level = { field = "level" }')
    head.append('message = "message"')
    if types:
        head.append("types = { " + ", ".join(f'{key} = "{value}"' for key, value in types.items()) + " }")
    if multiline:
        start = pattern.split("(?P<time>", 1)[0].removeprefix("^").replace("(?P<pid>", "(?:")
        head.append(f"multiline = {{ continuation = '''^(?!{start}{_time_regex(spec)})''' }}")
    draft = "\n".join(head) + '\n\n[[format.samples]]\nline = "-"\n'
    try:
        (definition,) = load_definitions(draft, f"{name}.toml")
    except LogscopeError:  # a proposal that does not load is not shown
        return None
    parser = RegexFormat(definition, UTC)
    samples = []
    for line in lines:
        parsed = parser.parse(line)
        if parsed is None or "'''" in line or "\\" in line or line.endswith("'") or parsed[2].endswith("'"):
            continue
        samples.append(_sample(line, parsed))
        if len(samples) == 3:
            break
    if not samples:
        return None
    text = "\n".join(head) + "\n\n" + "\n".join(samples)
    (definition,) = load_definitions(text, f"{name}.toml")
    return text if not check_definition(definition) else None


def _sample(line: str, parsed: tuple) -> str:
    ts, level, message = parsed[0], parsed[1], parsed[2]
    rows = ["[[format.samples]]", f"line = '''{line}'''"]
    if ts is not None:
        rows.append(f'ts = "{us_to_datetime(ts).isoformat().replace("+00:00", "Z")}"')
        rows.append(f'now = "{datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")}"')
    if level is not None:
        rows.append(f'level = "{level}"')
    rows.append(f"message = '''{message}'''")
    return "\n".join(rows) + "\n"
