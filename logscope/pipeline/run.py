"""One run, assembled below the commands: `ingest`, `tail` and `rules backtest` build an
`IngestRun`, add their sources and run it; `rules test` stores its lines with `store_timed_lines`.

A run owns the writer on the database, the pipeline (which sends whole files the bulk path and
everything else the streaming path, choosing once, in `Pipeline.add_sources`), and what is
attached to it while it runs, in this order: pattern mining, the rule engine (in event-time order
when the run reads only whole files), the query service with the `stats` writer, retention and
`--metrics`, then whatever was `attach`ed (the hook for more: a shipper to a lake, …). When the
pipeline fails, the run raises its error once everything attached has ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from logscope.errors import LogscopeError
from logscope.parsing.base import Parser
from logscope.parsing.registry import FormatRegistry
from logscope.parsing.source_parser import SourceParser
from logscope.patterns.background import ROUND_SECONDS as MINING_ROUND_SECONDS
from logscope.patterns.background import BackgroundMining
from logscope.pipeline.figures import Summary
from logscope.pipeline.rules import AttachedRules, RuleSettings, rules_attached
from logscope.pipeline.services import ServiceSettings, services_attached
from logscope.pipeline.streaming import MIN_COMMIT_SECONDS, Pipeline
from logscope.record import LineBatch, Record
from logscope.sources.base import Source
from logscope.sources.tail.identity import CheckpointBook
from logscope.store.server import QueryServer
from logscope.store.writer import LogWriter

Report = Callable[[str], None]
# Something that rides along a run: entered (with the run) before the pipeline starts, left after
# it ended and before the run's own attachments are.
Attachment = Callable[["IngestRun"], AbstractContextManager[Any]]
RULE_TEST_CHUNK = 500  # records a rule test stores (and the engine takes) at a time


@dataclass
class RunSettings:
    """What a run attaches."""

    db_path: str
    rules: RuleSettings = field(default_factory=RuleSettings)
    # None: no query service, `stats`, retention or metrics (a backtest's database is in memory).
    services: ServiceSettings | None = field(default_factory=ServiceSettings)
    patterns: bool = True  # mine log patterns as records are committed (docs/patterns.md)
    mining_seconds: float = MINING_ROUND_SECONDS  # at most one mining round this often
    min_commit_seconds: float = MIN_COMMIT_SECONDS  # at most one commit this often (tail: a frame)
    failure: str = "writing to the database failed"  # what a failed pipeline's error begins with


class IngestRun:
    """Sources into the database, with rules, services and attachments: build, add sources, then
    `run()` (or `with running():` to do something else while it runs, like a terminal UI)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        registry: FormatRegistry,
        forced: Parser | None,
        settings: RunSettings,
        on_error: Report,
    ) -> None:
        self.con = con
        self.settings = settings
        self.pipeline = Pipeline(
            LogWriter(con),
            registry,
            forced,
            on_error=on_error,
            min_commit_seconds=settings.min_commit_seconds,
        )
        self.rules: AttachedRules | None = None
        self.server: QueryServer | None = None
        self._attachments: list[Attachment] = []
        self._started = False

    @property
    def on_error(self) -> Report:
        assert self.pipeline.on_error is not None
        return self.pipeline.on_error

    @on_error.setter
    def on_error(self, report: Report) -> None:
        """Where problems go from now on (the TUI takes them once it exists)."""
        self.pipeline.on_error = report

    def add_sources(self, sources: list[Source], book: CheckpointBook | None = None) -> None:
        """Whole files through the bulk path (resuming from `book`), the files a follower finds at
        start too, everything else streamed."""
        self.pipeline.add_sources(sources, book)

    def attach(self, attachment: Attachment) -> None:
        """Run `attachment(run)` around the pipeline (after the rules and services)."""
        self._attachments.append(attachment)

    def run(self, while_waiting: Callable[[Pipeline], None] | None = None) -> Summary:
        """Run until every source has ended (or a stop was requested); `while_waiting` is called
        every 0.1 s meanwhile (a progress bar)."""
        with self.running() as pipeline:
            while not pipeline.wait(0.1):
                if while_waiting is not None:
                    while_waiting(pipeline)
        return self.pipeline.summary

    @contextmanager
    def running(self) -> Iterator[Pipeline]:
        """Attach everything, start the pipeline (if it has anything to read), run the block; then
        detach in reverse order and raise the pipeline's failure, if any."""
        pipeline, settings, report = self.pipeline, self.settings, self.on_error
        with ExitStack() as stack:
            # Patterns (docs/patterns.md) and version markers (docs/compare.md) beside the writer.
            mining = BackgroundMining(
                self.con, report, patterns=settings.patterns, round_seconds=settings.mining_seconds
            )
            pipeline.after_commit(mining.wake)
            stack.callback(mining.close)
            self.rules = stack.enter_context(rules_attached(pipeline, self.con, settings.rules, report))
            if settings.services is not None:
                self.server = stack.enter_context(
                    services_attached(
                        self.con,
                        settings.db_path,
                        pipeline,
                        settings.services,
                        report,
                        rules_info=self.rules.info if self.rules is not None else None,
                        rule_paths=settings.rules.paths,
                        builtin_rules=settings.rules.builtin,
                    )
                )
            for attachment in self._attachments:
                stack.enter_context(attachment(self))
            if pipeline.sources or pipeline.bulk_files:
                pipeline.start()
                self._started = True
            yield pipeline
        if pipeline.fatal:
            raise LogscopeError(f"{settings.failure}: {pipeline.fatal}")

    def stop(self, timeout: float | None = None) -> None:
        """Stop reading; wait up to `timeout` for what was read to be committed."""
        if self._started:
            self.pipeline.request_stop()
            self.pipeline.wait(timeout)

    def report_drops(self) -> None:
        """Report the sources that dropped datagrams (arriving faster than they were stored)."""
        for name, stats in self.pipeline.stats.items():
            if stats.drops:
                late = "arriving faster than they were stored"
                self.on_error(f"{name}: dropped {stats.drops:,} messages ({late})")


def store_timed_lines(
    con: duckdb.DuckDBPyConnection,
    registry: FormatRegistry,
    lines: list[tuple[int, str]],
    format_name: str | None = None,
) -> Iterator[tuple[list[Record], pa.Table | None]]:
    """A rule test's input: each (event time µs, line) parsed as a source's line read at that
    time (the parse stage's parser), stored in chunks; yields each chunk and its Arrow table."""
    writer = LogWriter(con)
    forced = registry.get(format_name) if format_name else None
    parser = SourceParser(registry, forced)
    records: list[Record] = []
    for at, line in lines:
        records += parser.parse_batch(LineBatch("test", [line], received_at=at))
    for begin in range(0, len(records), RULE_TEST_CHUNK):
        chunk = records[begin : begin + RULE_TEST_CHUNK]
        writer.write(chunk)
        yield chunk, writer.last_table
