"""`logscope tail`'s run, assembled after the first screen: formats, pipeline, rules and services
are loaded in a thread once the app has drawn, so the log view shows at once (issue 15)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb

from logscope.commands.common import build_formats, db_path
from logscope.commands.lake import lake_attachment
from logscope.commands.reading import run_settings
from logscope.sources.base import Source

if TYPE_CHECKING:
    from logscope.pipeline.run import IngestRun
    from logscope.tui.app import LogscopeApp

STOP_SECONDS = 5.0
# Followed records are committed at most once a second, and so shown once a second (as `less +F`
# polls): each commit costs the writer, the rules, the patterns stage and a redraw of the whole
# view a fixed amount, the same for 10 lines as for 1,000 (bench/tui_follow.py, 200 lines/s:
# 0.5 s took 17-18% of a core under load, 1 s 14-15%; docs/benchmarks.md, "Fourth round").
COMMIT_SECONDS = 1.0
# Patterns and change markers mined at most every 5 s while following (each round has a fixed
# cost; nobody watches the patterns table change faster).
MINING_SECONDS = 5.0
# Live rules evaluate what was committed at most every 2 s: each evaluation costs a few queries
# (~30 ms) however few records it takes; an alert shown 2 s after its record is still sooner than
# Prometheus (15 s) or Grafana (1 min) evaluate. Firing times are event times, whatever this is.
RULES_SECONDS = 2.0
# DuckDB's freed pages handed back after a commit at most this often (store/allocator.py): its
# own jemalloc kept 10-20 MB of them resident while following (docs/benchmarks.md).
PURGE_SECONDS = 1.0


class BackgroundRun:
    """Builds the IngestRun in its own thread and runs it until the app has ended.

    What goes wrong while building (a bad rule file, a format directory) ends the app and is
    raised again by `finish`, in the caller's thread, as if it had happened before the app ran.
    """

    def __init__(
        self,
        app: LogscopeApp,
        con: duckdb.DuckDBPyConnection,
        args: argparse.Namespace,
        sources: list[Source],
        warn_error: Callable[[str], None],
    ) -> None:
        self.app = app
        self.con = con
        self.args = args
        self.sources = sources
        self.warn_error = warn_error
        self.run: IngestRun | None = None
        self.error: BaseException | None = None
        self._app_ended = threading.Event()
        self._thread = threading.Thread(target=self._main, name="tail-run", daemon=True)

    @property
    def lines(self) -> int:
        """The records stored by the run."""
        return self.run.pipeline.summary.lines if self.run is not None else 0

    def start(self) -> None:
        if not self._thread.is_alive() and not self._app_ended.is_set():
            self._thread.start()

    def finish(self) -> None:
        """The app has ended: stop the run, report its alerts, raise what failed."""
        from logscope.commands.rules import report_alerts

        self._app_ended.set()
        if self._thread.ident is not None:
            self._thread.join()
        if self.run is not None and self.run.rules is not None:
            report_alerts(self.run, quiet=False)
        if self.error is not None:
            raise self.error

    def _build(self) -> IngestRun:
        from logscope.lean_arrow import import_lean

        import_lean()  # pyarrow without numpy and pyarrow.dataset: ~20 MB of a following tail
        from logscope.pipeline.run import IngestRun
        from logscope.store import allocator
        from logscope.tui.live import LiveFeed

        registry, forced = build_formats(self.args)
        settings = run_settings(self.args, live_clock=True)
        settings.min_commit_seconds = COMMIT_SECONDS  # fewer commits for the writer, rules and patterns
        settings.mining_seconds = MINING_SECONDS
        settings.rules.live_seconds = RULES_SECONDS
        run = IngestRun(self.con, registry, forced, settings, self.warn_error)
        run.add_sources(self.sources)  # files found at start are caught up in bulk
        run.pipeline.after_commit(allocator.purging_every(PURGE_SECONDS))
        shipping = lake_attachment(self.args, self.con)  # --lake: docs/lake.md
        if shipping is not None:
            run.attach(shipping)
        run.on_error = self.app.report_error
        self.app.post_feed(LiveFeed(run.pipeline))
        return run

    def browsing(self) -> bool:
        """No SOURCE (and nothing that needs a run: --lake, --metrics, --rules, --alerts-out):
        nothing new arrives, so nothing needs the pipeline, the rules or the patterns stage."""
        args = self.args
        needs_run = (getattr(args, "lake", None), args.metrics, args.rules, args.alerts_out)
        return not self.sources and not any(needs_run)

    def _serve(self) -> None:
        """Browse: only the query service (with `stats` and retention), through which other
        processes query, mark and vacuum while this one holds the database. The app reads the
        stored alerts, patterns and markers itself; pyarrow (~70 MB) is never loaded."""
        from logscope.commands.services import service_settings
        from logscope.pipeline.services import database_served

        settings = service_settings(self.args)
        with database_served(self.con, db_path(self.args), settings, self.app.report_error):
            self._app_ended.wait()

    def _main(self) -> None:
        try:
            if self.browsing():
                self._serve()
                return
            self.run = self._build()
            with self.run.running():
                try:
                    self._app_ended.wait()
                finally:
                    self.run.stop(STOP_SECONDS)
        except BaseException as exc:  # (raised again in the app's thread by `finish`)
            self.error = exc
            self.app.post_start_failed()
