"""Mining beside the writer: the pipeline only wakes this thread after a commit, and the thread
mines whatever was committed since, on a cursor of its own (docs/patterns.md).

A commit costs DuckDB a WAL sync; mining each commit in the writer's thread added a second one
to every batch (a follower of 300 small files stored them ~30% slower). Here one mining round
covers every commit since the last, at most every `ROUND_SECONDS`, and the writer never waits.
`close` mines what is left, so a run ends with every record it stored mined."""

from __future__ import annotations

import threading
from collections.abc import Callable

import duckdb

from logscope.patterns.stage import PatternStage
from logscope.store.version_markers import VersionMarkers

# Least time between two mining rounds (each is one transaction).
ROUND_SECONDS = 0.2


class BackgroundMining:
    """A `PatternStage` (unless `patterns` is False) and the version markers (store/version_markers.py)
    on their own cursor and thread; `wake` after each commit, `close` at the end."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        on_error: Callable[[str], None],
        patterns: bool = True,
        round_seconds: float = ROUND_SECONDS,
    ) -> None:
        self.round_seconds = round_seconds
        self.cursor = con.cursor()
        self.cursor.execute("SET TimeZone = 'UTC'")
        self.stage = PatternStage(self.cursor) if patterns else None
        self.versions = VersionMarkers(self.cursor)
        self.on_error = on_error
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logscope-patterns", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Records were committed: mine them soon."""
        self._wake.set()

    def close(self) -> None:
        """Mine what is left, then stop the thread and close the cursor."""
        self._closing.set()
        self._wake.set()
        self._thread.join()
        self._round()
        self.cursor.close()

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._closing.is_set():
                return
            self._round()
            self._closing.wait(self.round_seconds)  # commits meanwhile are mined in the next round

    def _round(self) -> None:
        try:
            if self.stage is not None:
                self.stage.catch_up()
        except Exception as exc:  # the records stay stored; `patterns --update` can mine them later
            self.on_error(f"patterns: {type(exc).__name__}: {' '.join(str(exc).split())}")
        try:
            self.versions.catch_up()
        except Exception as exc:  # the records stay stored; the next round looks again
            self.on_error(f"markers: {type(exc).__name__}: {' '.join(str(exc).split())}")
