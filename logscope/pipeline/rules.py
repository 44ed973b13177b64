"""The rule engine attached to a run: the one way records reach the rules, for `ingest`, `tail`
and `rules backtest`."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import duckdb

from logscope.alerting.actions import JsonLinesOutput
from logscope.alerting.check import check_ruleset
from logscope.alerting.engine import RuleEngine, format_field_types
from logscope.alerting.history import StoredValues
from logscope.alerting.lifecycle import NOTIFY_EVENTS, Change
from logscope.alerting.loader import RuleSet, load_paths
from logscope.alerting.replay import CatchUpThenLive, OrderedReplay
from logscope.errors import LogscopeError
from logscope.pipeline.streaming import Pipeline
from logscope.text import plural

Report = Callable[[str], None]


@dataclass
class RuleSettings:
    """Which rules a run evaluates, and how."""

    paths: list[str] = field(default_factory=list)
    builtin: bool = True  # the bundled rule packs too
    alerts_out: str | None = None  # notifications as JSON lines to this file (- for stdout)
    ruleset: RuleSet | None = None  # rules loaded already (then `paths` and `builtin` are not read)
    # The clock follows the wall clock once the run is caught up (a following run).
    live_clock: bool = False
    # Once live, the rules evaluate at most once this often, merging the batches committed
    # meanwhile (0: each batch as it comes).
    live_seconds: float = 0.0
    # Every record in event-time order, as a backtest does; None: when the run reads only whole
    # files (the pipeline says, once its sources are added).
    in_order: bool | None = None
    on_changes: Callable[[list[Change]], None] | None = None


def load_checked(paths: list[str], *, builtin: bool, format_types: dict[str, str]) -> RuleSet:
    """Rules that passed `rules check`; LogscopeError (exit 2) listing the problems otherwise."""
    ruleset = load_paths(paths, builtin=builtin)
    problems, _ = check_ruleset(ruleset, format_types)
    if len(problems) == 1:
        raise LogscopeError(str(problems[0]), 2)
    if problems:
        listing = "\n  ".join(str(problem) for problem in problems)
        raise LogscopeError(f"{plural(len(problems), 'problem')} in rule files:\n  {listing}", 2)
    return ruleset


class AlertTally:
    """The alerts a run notified about, each with its latest state: one per `alerts` row."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], str] = {}
        self.notifications = 0

    def on_changes(self, changes: list[Change]) -> None:
        for change in changes:
            if change.event in NOTIFY_EVENTS:
                key = (change.payload["rule"], repr(sorted(change.payload["group"].items())))
                self.states[key] = "resolved" if change.event == "resolved" else "firing"

    def describe(self) -> str:
        """`4 alerts (3 firing, 1 resolved), 5 notifications`."""
        states = Counter(self.states.values())
        detail = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        return f"{plural(len(self.states), 'alert')} ({detail}), {plural(self.notifications, 'notification')}"


@dataclass
class AttachedRules:
    """The rules of a running run (`status` shows them; the tally is its end-of-run line)."""

    engine: Callable[[], RuleEngine]
    tally: AlertTally

    def info(self) -> dict[str, Any]:
        return {"loaded": len(self.engine().rules), "disabled": len(self.engine().disabled)}


@contextmanager
def rules_attached(
    pipeline: Pipeline, con: duckdb.DuckDBPyConnection, settings: RuleSettings, report: Report
) -> Iterator[AttachedRules | None]:
    """Run the rule engine on the pipeline's committed records for the duration of the block,
    which runs the pipeline (None without rules)."""
    format_types = format_field_types(pipeline.registry.ordered)
    ruleset = settings.ruleset
    if ruleset is None:
        ruleset = load_checked(settings.paths, builtin=settings.builtin, format_types=format_types)
        if not ruleset.rules:
            yield None
            return
    outputs, stream = _outputs(settings.alerts_out, report)
    tally = AlertTally()
    observers = [tally.on_changes, *([settings.on_changes] if settings.on_changes else [])]
    in_order = pipeline.only_whole_files if settings.in_order is None else settings.in_order
    try:
        with alerts_attached(
            pipeline,
            con,
            ruleset,
            format_types,
            report,
            outputs=outputs,
            in_order=in_order,
            live_clock=settings.live_clock,
            live_seconds=settings.live_seconds,
            on_changes=lambda changes: [observe(changes) for observe in observers],
        ) as engine:
            attached = AttachedRules(engine, tally)
            yield attached
    finally:
        if stream is not None and stream is not sys.stdout.buffer:
            stream.close()
    tally.notifications = engine().notifications


def _outputs(alerts_out: str | None, report: Report) -> tuple[list[JsonLinesOutput], BinaryIO | None]:
    """`--alerts-out FILE`: notifications appended to FILE as JSON lines (- for stdout)."""
    if not alerts_out:
        return [], None
    try:
        stream = sys.stdout.buffer if alerts_out == "-" else open(alerts_out, "ab")  # noqa: SIM115
    except OSError as exc:
        raise LogscopeError(f"--alerts-out: {alerts_out}: {exc.strerror}", 2) from None
    return [JsonLinesOutput(stream, on_error=report)], stream


@contextmanager
def alerts_attached(
    pipeline: Pipeline,
    con: duckdb.DuckDBPyConnection,
    ruleset: RuleSet,
    format_types: dict[str, str],
    report: Report,
    *,
    outputs: list | None = None,
    in_order: bool,
    live_clock: bool = False,
    live_seconds: float = 0.0,
    on_changes: Callable[[list[Change]], None] | None = None,
) -> Iterator[Callable[[], RuleEngine]]:
    """The block runs the pipeline and gets a function giving the engine in use.

    Records stored from files are evaluated in event-time order, as a backtest does
    (alerting/replay.py): all of a one-shot run's (`in_order`), or those of the files a
    following run catches up on at start, after which the same engine takes what arrives, as
    it comes (CatchUpThenLive). So the same records give the same alerts in every command.
    Alerts of what is evaluated in order are delivered when that part ends."""
    # new_value rules know the values stored before this run (its records start at first_id).
    first_id = pipeline.writer.next_id if pipeline.writer is not None else 0
    history = StoredValues(con, first_id, ruleset.rules, format_types)
    history.prefetch()  # at this thread's priority, not the held engine's

    def make_engine(held: bool = False) -> RuleEngine:
        engine = RuleEngine(
            ruleset,
            store=con,
            format_types=format_types,
            outputs=outputs or [],
            on_error=report,
            threaded=True,
            held=held,
            history=history,
            # The rules of a one-shot import use the CPU it leaves (a following run's engine
            # goes on with live records: it keeps its priority).
            low_priority=held and in_order,
        )
        if on_changes is not None:
            engine.subscribe(on_changes)
        return engine

    replayer = OrderedReplay(make_engine, con, first_id, progress=pipeline.bulk_progress)
    following = None
    if in_order:
        pipeline.subscribe(replayer.on_records)
    else:
        following = CatchUpThenLive(
            replayer, start_clock=live_clock, writer=pipeline.writer, live_seconds=live_seconds
        )
        pipeline.subscribe(following.on_records)
        pipeline.on_caught_up(following.caught_up)

    def current() -> RuleEngine:
        return following.engine if following is not None else replayer.engine

    finished = False
    try:
        yield current
        last_id = pipeline.writer.next_id - 1 if pipeline.writer is not None else 0
        if following is None:
            replayer.finish(last_id, evaluate=not pipeline.fatal)
        elif following.live is None:  # the run ended before its catch-up did
            following.caught_up(last_id, evaluate=not pipeline.fatal)
        finished = True
    finally:
        if not finished:  # nothing held is delivered
            following.abandon() if following is not None else replayer.abandon()
        current().close()
