"""Where rule SQL runs: an in-memory DuckDB that cannot touch files, the network or extensions."""

from __future__ import annotations

import json
import os
import re
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "threads": 1,
    "memory_limit": "512MB",
}
# Every query running rule SQL is interrupted (and the rule disabled) when it runs longer than
# this, or when the process's resident memory grows by more than MEMORY_BYTES while it runs
# (DuckDB's memory_limit does not cover string results, so it alone does not hold). DuckDB 1.5.5
# does not look at an interrupt inside one vector's list functions (a lambda over 2,048 records
# can build hundreds of gigabytes there), so the process's address space is also capped while
# such a query is over its limit: its next allocation fails and the query ends (see _AddressCap).
QUERY_SECONDS = 10.0
CHECK_SECONDS = 3.0  # `rules check` runs expressions over no records: anything slower is a loop
MEMORY_BYTES = 1 << 30
WATCH_SECONDS = 0.05  # how often the watchdog looks at the clock and the memory
CAP_SLACK_BYTES = 64 << 20  # room the other threads keep while a query over its limit is capped
# Functions whose result grows with an argument, and the largest constant that argument may be:
# one call could otherwise build gigabytes before any limit is looked at.
# (DuckDB computes 2,048 records at a time before anything can stop it, and a line may hold 1 MiB.)
SIZE_ARGUMENTS: dict[str, tuple[int, int]] = {  # name -> (argument index, largest value)
    "repeat": (1, 10_000),  # ... of a constant (repeat(message, n) is n MiB a record)
    "lpad": (1, 10_000),
    "rpad": (1, 10_000),
    "list_resize": (1, 10_000),
    "array_resize": (1, 10_000),
    "bar": (3, 1_000),
}
RANGES = ("range", "generate_series")  # constant bounds, at most RANGE_MAX elements
RANGE_MAX = 10_000
FORMATTERS = ("printf", "format")  # a constant format string, widths of at most FORMAT_WIDTH_MAX
FORMAT_WIDTH_MAX = 1_000


class RuleSqlError(Exception):
    """Rule SQL that was refused or failed; the message is one line for the user."""


class RuleLimitError(RuleSqlError):
    """Rule SQL that ran beyond its time or memory limit."""


def one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def open_sandbox() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with external access off and its configuration locked."""
    con = duckdb.connect(":memory:", config=SANDBOX_CONFIG)
    con.execute("SET TimeZone = 'UTC'")
    # Without this, the Python client resolves unknown table names to Python variables in scope.
    con.execute("SET python_enable_replacements = false")
    con.execute("SET lock_configuration = true")
    return con


def check_select(sql: str) -> None:
    """Refuse anything but exactly one SELECT (or WITH ... SELECT) statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise RuleSqlError(f"not valid SQL: {one_line(exc)}") from exc
    if len(statements) != 1:
        raise RuleSqlError(f"must be exactly one statement, found {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise RuleSqlError(f"only a SELECT query is allowed here, not {name}")


def query_size_problems(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """What `size_problems` finds in a query."""
    return list(size_problems(parse_tree(con, sql).get("statements", [])))


_PARSED: dict[str, frozenset[str] | str] = {}  # expression -> its column names, or why it was refused
_PARSED_MAX = 10_000


def expression_columns(con: duckdb.DuckDBPyConnection, expression: str) -> set[str]:
    """The column names an SQL expression refers to (first part of qualified names).

    Raises RuleSqlError when the text is not exactly one expression. Parses each text once
    (checking a rule set asks about each expression several times).
    """
    known = _PARSED.get(expression)
    if known is None:
        try:
            known = frozenset(_parse_columns(con, expression))
        except RuleSqlError as exc:
            known = str(exc)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[expression] = known
    if isinstance(known, str):
        raise RuleSqlError(known)
    return set(known)


def _parse_columns(con: duckdb.DuckDBPyConnection, expression: str) -> set[str]:
    document = parse_tree(con, f"SELECT ({expression})")
    if document.get("error"):
        message = document.get("error_message", "not a valid SQL expression")
        raise RuleSqlError(f"not a valid SQL expression: {' '.join(message.split())}")
    statements = document.get("statements", [])
    node = statements[0].get("node", {}) if len(statements) == 1 else {}
    if len(statements) != 1 or node.get("from_table", {}).get("type") not in (None, "EMPTY"):
        raise RuleSqlError("must be a single expression, not a query")
    if len(node.get("select_list", [])) != 1:
        raise RuleSqlError("must be a single expression")
    for problem in size_problems(node):
        raise RuleSqlError(problem)
    return set(_column_refs(node["select_list"][0]))


def _column_refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("class") == "COLUMN_REF" and node.get("column_names"):
            yield node["column_names"][0]
        for value in node.values():
            yield from _column_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _column_refs(value)


# --- limits: a watchdog that interrupts rule SQL running too long or growing memory --------------


def resident_bytes() -> int:
    """The process's resident memory (0 where /proc is not there)."""
    return _statm(1)


def address_space_bytes() -> int:
    """The process's virtual memory size (0 where /proc is not there)."""
    return _statm(0)


def _statm(field: int) -> int:
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[field]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Watch:
    """One query under watch: its connection, deadline and memory allowance."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float, memory: int) -> None:
        self.con, self.seconds, self.memory = con, seconds, memory
        self.deadline = time.monotonic() + seconds
        self.baseline = 0  # the resident memory when the watchdog first looks (off the query's thread)
        self.reason: str | None = None
        self.interrupted_at = 0.0
        self.ended = False  # set by ADDRESS_CAP.release once the query is over
        self.caps_before = ADDRESS_CAP.caps_before_now()  # to tell a cap held while it ran

    def look(self, now: float, resident: int) -> None:
        if not self.baseline:
            self.baseline = resident
        if self.reason is None:
            if now >= self.deadline:
                self.reason = f"ran longer than {self.seconds:g} s (the time limit of rule SQL)"
            elif self.baseline and resident - self.baseline > self.memory:
                self.reason = f"used more than {self.memory >> 20} MB of memory (the limit of rule SQL)"
        if self.reason is not None and now - self.interrupted_at > 0.5:
            self.interrupted_at = now  # (again later, should it land between two statements)
            self.con.interrupt()
            if self.reason.startswith("used more than"):
                ADDRESS_CAP.hold(self)


class _AddressCap:
    """While a watched query is over its memory limit, the process may not map more memory
    (RLIMIT_AS at its current size and a little slack): the query's next allocation fails with
    DuckDB's OutOfMemoryException, which an interrupt cannot do inside a list function. Lifted
    as soon as no such query runs; the records and the other rules are untouched."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: set[_Watch] = set()
        self._previous: tuple[int, int] | None = None
        self._caps = 0  # how many times a cap has been put on
        self._last_reason: str | None = None  # why the last one was

    def hold(self, watch: _Watch) -> None:
        with self._lock:
            if watch.ended or watch in self._holders:
                return
            size = address_space_bytes()
            if not size:
                return  # no /proc: the interrupt is all there is
            if not self._holders:
                self._caps += 1
                self._last_reason = _capped(watch.reason)
                self._previous = resource.getrlimit(resource.RLIMIT_AS)
                soft, hard = self._previous
                cap = size + CAP_SLACK_BYTES
                if hard != resource.RLIM_INFINITY:
                    cap = min(cap, hard)
                if soft == resource.RLIM_INFINITY or cap < soft:
                    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            self._holders.add(watch)

    def caps_before_now(self) -> int:
        """The caps put on before now, not counting one in force: a query that starts under a cap
        runs under it."""
        with self._lock:
            return self._caps - 1 if self._holders else self._caps

    def reason_since(self, caps_before: int) -> str | None:
        """Why memory was capped while a query that started after `caps_before` caps ran (another
        query over its limit), or None. A query whose allocation failed under the cap may only
        report it after that other query ended and lifted it."""
        with self._lock:
            return self._last_reason if self._holders or self._caps != caps_before else None

    def release(self, watch: _Watch) -> None:
        with self._lock:
            watch.ended = True  # (the watchdog may look at it once more)
            if watch not in self._holders:
                return
            self._holders.discard(watch)
            if not self._holders and self._previous is not None:
                resource.setrlimit(resource.RLIMIT_AS, self._previous)
                self._previous = None


ADDRESS_CAP = _AddressCap()


def _capped(reason: str | None) -> str:
    return f"ran out of memory while rule SQL over its limit was stopped ({reason})"


class _Watchdog:
    """One thread for the process, looking at every watched query every WATCH_SECONDS."""

    def __init__(self) -> None:
        self._watches: set[_Watch] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rule-sql-watchdog", daemon=True)
                self._thread.start()
        self._wake.set()

    def watching(self) -> list[_Watch]:
        with self._lock:
            return list(self._watches)

    def remove(self, watch: _Watch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def _run(self) -> None:
        while True:
            self._wake.clear()
            with self._lock:
                watches = list(self._watches)
            if not watches:
                self._wake.wait()
                continue
            now, resident = time.monotonic(), resident_bytes()
            for watch in watches:
                watch.look(now, resident)
            time.sleep(WATCH_SECONDS)


WATCHDOG = _Watchdog()


@contextmanager
def limited(
    con: duckdb.DuckDBPyConnection, seconds: float = QUERY_SECONDS, memory: int = MEMORY_BYTES
) -> Iterator[None]:
    """Run the block's queries on `con` under the time and memory limits of rule SQL: beyond
    them the query is interrupted and RuleLimitError says which limit it was."""
    watch = _Watch(con, seconds, memory)
    WATCHDOG.add(watch)
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        # Failed under the address-space cap another watched query put on (a rule's predicates,
        # computed ahead, and its evaluation run at once): say so, with that query's reason.
        reason = watch.reason or ADDRESS_CAP.reason_since(watch.caps_before)
        if reason is not None:
            raise RuleLimitError(reason) from None
        raise RuleLimitError(f"ran out of the memory rule SQL may use: {one_line(exc)}") from None
    except duckdb.Error:
        if watch.reason is not None:
            raise RuleLimitError(watch.reason) from None
        raise
    finally:
        WATCHDOG.remove(watch)
        ADDRESS_CAP.release(watch)


# --- what `rules check` refuses before running anything: results that grow without bound -----


def size_problems(node: object) -> Iterator[str]:
    """Calls in a parsed SQL tree (json_serialize_sql) whose result could take unbounded memory."""
    if isinstance(node, list):
        for item in node:
            yield from size_problems(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("class") == "FUNCTION":
        yield from _call_problems(str(node.get("function_name", "")).lower(), _arguments(node))
    for value in node.values():
        yield from size_problems(value)


def _arguments(node: dict) -> list[dict]:
    listed = node.get("arguments")
    if listed is not None:
        return [item.get("expression", item) if isinstance(item, dict) else {} for item in listed]
    return [item for item in node.get("children", []) if isinstance(item, dict)]


def _constant(node: dict) -> str | None:
    """A literal's text (None if the node is no literal)."""
    if node.get("class") != "CONSTANT":
        return None
    literal = node.get("literal")
    if isinstance(literal, dict):
        return str(literal.get("text"))
    value = node.get("value", {})
    return None if value.get("is_null") else str(value.get("value"))


def _number(node: dict) -> float | None:
    text = _constant(node)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _call_problems(name: str, arguments: list[dict]) -> Iterator[str]:
    if name == "repeat" and arguments and _constant(arguments[0]) is None:
        yield "repeat(): only of a constant (a record's text repeated can take gigabytes; memory limit)"
    elif name in SIZE_ARGUMENTS:
        index, largest = SIZE_ARGUMENTS[name]
        if len(arguments) > index:
            value = _number(arguments[index])
            if value is None or value > largest:
                yield f"{name}(): argument {index + 1} must be a number of at most {largest:,} (memory limit)"
    elif name in RANGES and arguments:
        bounds = [_number(argument) for argument in arguments[:2]]
        if len(bounds) == 1:
            bounds.insert(0, 0.0)
        low, high = bounds
        if low is None or high is None or high - low > RANGE_MAX:
            yield f"{name}(): its bounds must be numbers at most {RANGE_MAX:,} apart (memory limit)"
    elif name in FORMATTERS and arguments:
        text = _constant(arguments[0])
        widths = [int(digits) for digits in re.findall(r"\d+", text or "")]
        if text is None or any(width > FORMAT_WIDTH_MAX for width in widths):
            limit = f"{FORMAT_WIDTH_MAX:,}"
            yield f"{name}(): the format must be a string with widths of at most {limit} (memory limit)"


def parse_tree(con: duckdb.DuckDBPyConnection, sql: str) -> dict:
    """json_serialize_sql of a statement (its `error` set when it does not parse)."""
    try:
        with limited(con, CHECK_SECONDS):
            tree = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0]
    except duckdb.Error as exc:
        raise RuleSqlError(f"not valid SQL: {one_line(exc)}") from exc
    return json.loads(tree)
