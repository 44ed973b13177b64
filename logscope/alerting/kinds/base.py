"""What every rule kind says about itself: its options, its summary, when a group is ready, its
condition (written once, here in its class) and the bound the fast evaluator may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from logscope.alerting.durations import SECOND

if TYPE_CHECKING:
    from logscope.alerting.model import Rule

# Whether the condition holds at an instant, given the window's count and a second figure: the
# window's total (ratio) or the previous window's count (spike).
Condition = Callable[[int, int, int], bool]


class OptionReader(Protocol):
    """The loader's typed access to one rule table (loader._Reader)."""

    def fail(self, key: str | None, message: str) -> None: ...
    def text(self, key: str, default: str = "") -> str: ...
    def names(self, key: str) -> list[str]: ...
    def duration(self, key: str, default: int) -> int: ...
    def get(self, key: str, kind: type | tuple[type, ...], what: str, default: Any = None) -> Any: ...
    def number(self, key: str, default: float, *, integer: bool, minimum: float, exclusive: bool = False): ...


@dataclass(frozen=True)
class Option:
    """One key of a rule table: how it is read (with its default) and what makes it wrong."""

    key: str
    read: Callable[[OptionReader, str], Any]
    check: Callable[[Any], str | None] = lambda value: None

    @property
    def attr(self) -> str:
        return self.key

    def load(self, reader: OptionReader) -> Any:
        value = self.read(reader, self.key)
        problem = self.check(value)
        if problem:
            reader.fail(self.key, problem)
        return value


def text(key: str, default: str = "", *, required_text: str | None = None) -> Option:
    def check(value: str) -> str | None:
        return required_text if required_text and not value.strip() else None

    return Option(key, lambda reader, name: reader.text(name, default), check)


def names(key: str) -> Option:
    return Option(key, lambda reader, name: reader.names(name))


def duration(key: str, default: int, *, positive: bool = False) -> Option:
    def check(value: int) -> str | None:
        return "must be longer than 0s" if positive and value <= 0 else None

    return Option(key, lambda reader, name: reader.duration(name, default), check)


def integer(key: str, default: int, minimum: int = 1) -> Option:
    return Option(key, lambda reader, name: reader.number(name, default, integer=True, minimum=minimum))


def number(
    key: str, default: float, minimum: float, *, exclusive: bool = False, most: float | None = None
) -> Option:
    def check(value: float) -> str | None:
        return f"a fraction between 0 and 1, got {value}" if most is not None and value > most else None

    def read(reader: OptionReader, name: str) -> float:
        return reader.number(name, default, integer=False, minimum=minimum, exclusive=exclusive)

    return Option(key, read, check)


WHERE = text("where", "true", required_text="must not be empty (leave it out to match every record)")
GROUP_BY = names("group_by")
WINDOW = duration("window", 5 * 60 * SECOND, positive=True)
THRESHOLD = integer("threshold", 1)


@dataclass(frozen=True)
class Bound:
    """What a group needs at the least before its condition can hold: `least` matching records
    (or, `on_totals`, `least` counted records and one matching). The fast evaluator leaves
    groups that cannot reach it alone (counting/: the SQL backlog, `cannot_fire`)."""

    on_totals: bool
    least: int

    def reachable(self, hits: int, totals: int) -> bool:
        """Whether `hits` matching and `totals` counted records at most could reach the bound."""
        return totals >= self.least and hits > 0 if self.on_totals else hits >= self.least


class RuleKind:
    """One rule kind. Subclasses list their options and write their condition once; the
    registry (kinds/__init__.py) lists the kinds."""

    name: ClassVar[str]
    summary: ClassVar[str]  # the default summary's text (before the group's labels)
    options: ClassVar[tuple[Option, ...]]
    required: ClassVar[tuple[str, ...]] = ()
    counting: ClassVar[bool] = True  # evaluated over windows of arrivals (all but sql)
    first_seen: ClassVar[bool] = False  # only a group value met for the first time opens an alert
    two_windows: ClassVar[bool] = False  # compares the window with the one before (spike)
    has_total: ClassVar[bool] = False  # counts a `total` besides the matching records (ratio)
    counts_every_match: ClassVar[bool] = False  # an alert's count: matches since it began
    only_falls: ClassVar[bool] = True  # records leaving a window never make the condition hold
    backlog: ClassVar[bool] = False  # groups short of the bound may wait in the SQL backlog
    watches_silence: ClassVar[bool] = False  # a group with nothing in its windows still matters
    # The records that matched in the window before it fired are what made it fire (the TUI's
    # alert view filters the log to them; an absence fires on records that did not come).
    window_made_it_fire: ClassVar[bool] = False

    @property
    def keys(self) -> set[str]:
        return {option.key for option in self.options}

    def prepare(self, rule: Rule) -> None:
        """Settle what the options imply (called once the options are read)."""

    def group_names(self, rule: Rule) -> list[str]:
        """The names that make up an alert's group."""
        return rule.group_by

    def ready_at(self, rule: Rule, created: int, origin: int) -> int:
        """When a group created at `created` (the engine started at `origin`) may first hold."""
        return created

    def watched_from_start(self, rule: Rule) -> bool:
        """Whether the rule's one group exists from the first event time on (nothing arrived)."""
        return False

    def condition(self, rule: Rule, ready_at: int) -> Condition:
        raise NotImplementedError

    def bound(self, rule: Rule) -> Bound | None:
        """What a group needs at the least to hold (None: nothing can be ruled out that way)."""
        return None

    # For kinds with `stretch_bound`: whether, for a stretch of arrivals up to `last`, `most`
    # matching records at most and `least` (`least_total` counted) at the least in every window
    # rule the condition out at every instant (counting/bounds.py).
    stretch_bound: ClassVar[bool] = False

    def ruled_out(
        self, rule: Rule, ready_at: int, last: int, most: int, least: int, least_total: int
    ) -> bool:
        return False

    def figures(self, count: int, total: int, previous: int) -> dict[str, Any]:
        """The numbers a summary can show."""
        return {"count": count, "value": count}
