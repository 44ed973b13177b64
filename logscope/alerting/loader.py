"""Read rule files (TOML) into Rules and ActionSpecs; every problem names file, rule and field."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from logscope.alerting.kinds import KINDS
from logscope.alerting.model import SEVERITIES, ActionSpec, Rule, parse_duration
from logscope.alerting.template import SUMMARY_KEYS, spec_problems, template_names
from logscope.errors import not_utf8

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
COMMON_KEYS = {
    "name",
    "kind",
    "description",
    "severity",
    "labels",
    "summary",
    "for",
    "renotify",
    "actions",
    "fields",
    "enabled",
    "extract",
}
ACTION_TYPES = ("exec", "webhook", "alertmanager")
DUCKDB_TYPES = re.compile(
    r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UBIGINT|FLOAT|REAL|DOUBLE|VARCHAR|TEXT|"
    r"DATE|TIMESTAMP|TIMESTAMPTZ|INTERVAL|JSON|DECIMAL\(\d+,\s*\d+\))$",
    re.IGNORECASE,
)


@dataclass
class RuleProblem:
    """One validation error: where it is and what is wrong."""

    file: str
    rule: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file] if self.file else []
        if self.rule:
            where.append(f"rule {self.rule!r}")
        if self.field:
            where.append(f"field {self.field!r}")
        return ": ".join([*where, self.message])


@dataclass
class RuleSet:
    """Rules and actions read from one or more files, and what was wrong with them."""

    rules: list[Rule] = field(default_factory=list)
    actions: dict[str, ActionSpec] = field(default_factory=dict)
    problems: list[RuleProblem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def extend(self, other: RuleSet) -> None:
        """Add another file's rules; a name both define is a problem naming the two files."""
        known = {rule.name: rule.file for rule in self.rules}
        for rule in other.rules:
            if rule.name in known:
                message = f"rule {rule.name!r} is defined in {known[rule.name]} and in {rule.file}"
                self.problems.append(RuleProblem("", None, None, message))
            else:
                known[rule.name] = rule.file
                self.rules.append(rule)
        for name, action in other.actions.items():
            if name in self.actions:
                message = f"action {name!r} is defined in {self.actions[name].file} and in {action.file}"
                self.problems.append(RuleProblem("", None, None, message))
            else:
                self.actions[name] = action
        self.problems += other.problems
        self.files += other.files

    def override(self, other: RuleSet) -> None:
        """Add the user's rules over bundled ones: a rule or action named like one replaces it."""
        replaced = {rule.name: rule for rule in other.rules}
        self.rules = [replaced.pop(rule.name, rule) for rule in self.rules] + list(replaced.values())
        self.actions.update(other.actions)
        self.problems += other.problems
        self.files += [name for name in other.files if name not in self.files]

    def check_action_references(self) -> None:
        for rule in self.rules:
            for name in rule.actions:
                if name not in self.actions:
                    known = ", ".join(sorted(self.actions)) or "none defined"
                    message = f"unknown action {name!r} (known: {known})"
                    self.problems.append(RuleProblem(rule.file, rule.name, "actions", message))


def builtin_rules_dir() -> Path:
    """The bundled rule packs: the installed `logscope.builtin.rules`, else the repository's rules/."""
    try:
        return Path(str(resources.files("logscope.builtin.rules")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent.parent / "rules"


def rule_files(path: str) -> list[str]:
    """The rule files a path names: itself, or the *.toml files directly inside a directory."""
    if os.path.isdir(path):
        return sorted(str(p) for p in Path(path).glob("*.toml"))
    return [path]


def load_paths(paths: list[str], *, builtin: bool = False) -> RuleSet:
    """Load every rule file named, checked together; with `builtin`, over the bundled packs (a
    rule named like a bundled one replaces it, as a user's format does a built-in one)."""
    result = _load_files([str(builtin_rules_dir())]) if builtin else RuleSet()
    result.override(_load_files(paths))
    result.check_action_references()
    return result


def _load_files(paths: list[str]) -> RuleSet:
    """The rule files of `paths`, each once however often it is named."""
    result = RuleSet()
    seen: set[str] = set()
    for path in paths:
        files = rule_files(path)
        if not files and os.path.isdir(path):
            result.problems.append(RuleProblem(path, None, None, "no *.toml rule files in this directory"))
        for file in files:
            if os.path.realpath(file) not in seen:
                seen.add(os.path.realpath(file))
                result.extend(load_file(file))
    return result


def load_file(path: str) -> RuleSet:
    """Rules and actions of one file; problems are collected, not raised."""
    result = RuleSet(files=[path])
    try:
        document = read_toml(path)
    except UnicodeDecodeError as exc:
        result.problems.append(RuleProblem(path, None, None, not_utf8(exc)))
        return result
    except OSError as exc:
        result.problems.append(RuleProblem(path, None, None, f"cannot read: {exc.strerror}"))
        return result
    except tomllib.TOMLDecodeError as exc:
        result.problems.append(RuleProblem(path, None, None, f"not valid TOML: {exc}"))
        return result
    return load_document(document, path, result)


def read_toml(path: str) -> dict[str, Any]:
    """A TOML file's document. Raises OSError, UnicodeDecodeError, tomllib.TOMLDecodeError."""
    with open(path, "rb") as handle:
        return tomllib.loads(handle.read().decode("utf-8"))


def load_document(document: dict[str, Any], path: str, result: RuleSet | None = None) -> RuleSet:
    result = result or RuleSet(files=[path])
    for key in document:
        if key not in ("rule", "actions", "metric"):  # [[metric]]: logscope/metrics/definitions.py
            result.problems.append(RuleProblem(path, None, key, "unknown top-level key (use [[rule]])"))
    actions = document.get("actions", {})
    if not isinstance(actions, dict):
        result.problems.append(RuleProblem(path, None, "actions", "must be a table of [actions.NAME]"))
        actions = {}
    for name, table in actions.items():
        action = _read_action(path, name, table, result.problems)
        if action is not None:
            result.actions[name] = action
    rules = document.get("rule", [])
    if not isinstance(rules, list):
        result.problems.append(RuleProblem(path, None, "rule", "must be an array of tables: [[rule]]"))
        rules = []
    seen: set[str] = set()
    for index, table in enumerate(rules):
        rule = _read_rule(path, index, table, result.problems)
        if rule is None:
            continue
        if rule.name in seen:
            result.problems.append(RuleProblem(path, rule.name, "name", "defined twice in this file"))
            continue
        seen.add(rule.name)
        result.rules.append(rule)
    return result


class _Reader:
    """Typed access to one table's keys, recording a problem for each bad value."""

    def __init__(self, path: str, rule: str | None, table: dict, problems: list[RuleProblem]) -> None:
        self.path, self.rule, self.table, self.problems = path, rule, table, problems
        self.ok = True

    def fail(self, key: str | None, message: str) -> None:
        self.ok = False
        self.problems.append(RuleProblem(self.path, self.rule, key, message))

    def get(self, key: str, kind: type | tuple[type, ...], what: str, default: Any = None) -> Any:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.fail(key, f"expected {what}, got {value!r}")
            return default
        if not isinstance(value, kind):
            self.fail(key, f"expected {what}, got {value!r}")
            return default
        return value

    def text(self, key: str, default: str = "") -> str:
        value = self.get(key, str, "a string", default)
        return value

    def names(self, key: str) -> list[str]:
        value = self.get(key, (str, list), "a name or a list of names", [])
        value = [value] if isinstance(value, str) else value
        if not all(isinstance(item, str) and item for item in value):
            self.fail(key, "expected a list of names (strings)")
            return []
        return value

    def table_of_strings(self, key: str) -> dict[str, str]:
        value = self.get(key, dict, "a table of strings", {})
        if not all(isinstance(item, str) for item in value.values()):
            self.fail(key, "every value must be a string")
            return {}
        return value

    def duration(self, key: str, default: int) -> int:
        if key not in self.table:
            return default
        value = self.table[key]
        micros = parse_duration(value) if isinstance(value, str) else None
        if micros is None:
            self.fail(key, f"expected a duration like 30s, 5m, 1h, got {value!r}")
            return default
        return micros

    def number(self, key: str, default: float, *, integer: bool, minimum: float, exclusive: bool = False):
        if key not in self.table:
            return default
        kind = int if integer else (int, float)
        what = "an integer" if integer else "a number"
        value = self.get(key, kind, what, default)
        if value is None:
            return default
        if value < minimum or (exclusive and value == minimum):
            relation = "greater than" if exclusive else "at least"
            self.fail(key, f"must be {relation} {minimum}, got {value}")
            return default
        return value


def _read_rule(path: str, index: int, table: Any, problems: list[RuleProblem]) -> Rule | None:
    if not isinstance(table, dict):
        problems.append(RuleProblem(path, f"#{index + 1}", None, "a rule must be a table"))
        return None
    name = table.get("name")
    label = name if isinstance(name, str) and name else f"#{index + 1}"
    reader = _Reader(path, label, table, problems)
    if not isinstance(name, str) or not NAME.match(name):
        reader.fail("name", "required: letters, digits, _ . - (starting with a letter)")
        return None
    kind = table.get("kind", "match")
    if kind not in KINDS:
        reader.fail("kind", f"unknown kind {kind!r} (one of: {', '.join(KINDS)})")
        return None
    spec = KINDS[kind]
    for key in table:
        if key not in COMMON_KEYS and key not in spec.keys:
            reader.fail(key, f"not a field of a {kind} rule")
    for key in spec.required:
        if key not in table:
            reader.fail(key, f"required for a {kind} rule")
    if table.get("enabled", True) is False:
        return None
    rule = Rule(name=name, kind=kind, file=path)
    _read_common(reader, rule)
    _read_kind(reader, rule)
    return rule if reader.ok else None


def _read_common(reader: _Reader, rule: Rule) -> None:
    rule.description = reader.text("description")
    rule.severity = reader.text("severity", "warning")
    if rule.severity not in SEVERITIES:
        reader.fail("severity", f"one of: {', '.join(SEVERITIES)}")
    rule.labels = reader.table_of_strings("labels")
    rule.summary = reader.text("summary")
    rule.for_ = reader.duration("for", 0)
    rule.renotify = reader.duration("renotify", rule.renotify)
    rule.actions = reader.names("actions")
    rule.field_types = reader.table_of_strings("fields")
    rule.extract = reader.table_of_strings("extract")
    for name in rule.extract:
        if not NAME.match(name):
            reader.fail("extract", f"{name!r}: a name is letters, digits and _ (starting with a letter)")
    for column, type_name in rule.field_types.items():
        if not DUCKDB_TYPES.match(type_name.strip()):
            reader.fail("fields", f"{column}: not a DuckDB type this rule can use: {type_name!r}")
    reader.get("enabled", bool, "true or false")


def _read_kind(reader: _Reader, rule: Rule) -> None:
    """The kind's own options (kinds/), then the summary they imply."""
    spec = rule.spec
    for option in spec.options:
        setattr(rule, option.attr, option.load(reader))
    spec.prepare(rule)
    if not rule.summary:
        rule.summary = rule.default_summary()
    for problem in spec_problems(rule.summary):
        reader.fail("summary", problem)
    allowed = SUMMARY_KEYS | set(rule.group_names) | set(rule.labels)
    for name in template_names(rule.summary):
        if name not in allowed and rule.spec.counting:  # sql columns are checked against the query
            known = ", ".join(sorted(allowed))
            reader.fail("summary", f"unknown placeholder {{{name}}} (known: {known})")


def _read_action(path: str, name: str, table: Any, problems: list[RuleProblem]) -> ActionSpec | None:
    key = f"actions.{name}"
    if not isinstance(table, dict):
        problems.append(RuleProblem(path, None, key, "must be a table"))
        return None
    reader = _Reader(path, None, table, problems)
    kind = table.get("type")
    if kind not in ACTION_TYPES:
        reader.fail(f"{key}.type", f"one of: {', '.join(ACTION_TYPES)}")
        return None
    allowed = {"type", "timeout", "retries", "backoff"}
    allowed |= {"command"} if kind == "exec" else {"url", "headers"}
    if kind == "alertmanager":
        allowed |= {"resend", "generator_url"}
    for item in table:
        if item not in allowed:
            reader.fail(f"{key}.{item}", f"not a field of a {kind} action")
    action = ActionSpec(name=name, type=kind, file=path)
    action.timeout = float(
        reader.number("timeout", 10.0 if kind == "exec" else 5.0, integer=False, minimum=0, exclusive=True)
    )
    action.retries = reader.number("retries", 0 if kind == "exec" else 3, integer=True, minimum=0)
    action.backoff = float(reader.number("backoff", 0.5, integer=False, minimum=0))
    if kind == "exec":
        command = table.get("command")
        if isinstance(command, str):
            import shlex

            command = shlex.split(command)
        if not command or not all(isinstance(part, str) for part in command):
            reader.fail(f"{key}.command", "required: a command line or a list of arguments")
            return None
        action.command = command
    else:
        url = table.get("url")
        # alertmanager: a list too, every instance of a cluster (as Prometheus sends to each)
        urls = url if kind == "alertmanager" and isinstance(url, list) and url else [url]
        if not all(isinstance(item, str) and item.startswith(("http://", "https://")) for item in urls):
            many = " (or a list of them)" if kind == "alertmanager" else ""
            reader.fail(f"{key}.url", f"required: an http:// or https:// URL{many}")
            return None
        action.url, action.urls = urls[0], list(urls)
        action.headers = reader.table_of_strings("headers")
        if kind == "alertmanager":
            action.resend = reader.duration("resend", 60_000_000) / 1e6 or 60.0
            action.generator_url = reader.text("generator_url")
    return action if reader.ok else None
