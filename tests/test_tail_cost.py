"""What following costs (issue 15): `tail` commits a followed file's lines at most once a second
(COMMIT_SECONDS; each commit costs the writer, the rules, the patterns stage and a redraw a fixed
amount) and loses none of them; and what it imports before its first screen leaves out pyarrow,
numpy and the pipeline (loaded in a thread once the screen is drawn: tail_start.BackgroundRun).

The cadence test runs the real TailSource, Pipeline and LogWriter on a file a thread keeps growing;
its bound is a least gap between the commits' starts, which load can only widen."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import threading
import time
from pathlib import Path

from logscope.commands.tail_start import COMMIT_SECONDS
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.streaming import Pipeline
from logscope.sources.spec import FollowOptions, expand_sources
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

GROWING_SECONDS = 3.5
ONCE_A_SECOND = 1.0  # (0.5 s cost 17-18% of a core at 200 lines/s: docs/benchmarks.md)
LINES_A_TICK = 4  # every 20 ms: 200 lines/s, as bench/tui_follow.py's slow rate


def grow(log: Path, stop: threading.Event) -> int:
    """Append nginx lines every 20 ms until `stop`; the lines written."""
    written = 0
    with open(log, "a", buffering=1) as out:
        while not stop.is_set():
            out.write(
                "".join(
                    f'203.0.113.{n % 250} - - [07/Dec/2026:15:00:00 +0000] "GET /api/items/{n} HTTP/1.1"'
                    f' 200 {100 + n} "-" "test/1.0"\n'
                    for n in range(written, written + LINES_A_TICK)
                )
            )
            written += LINES_A_TICK
            time.sleep(0.02)
    return written


def test_tail_commits_a_followed_file_at_most_once_a_second_and_loses_no_line(
    tmp_path: Path,
) -> None:
    log, db = tmp_path / "growing.log", tmp_path / "db.duckdb"
    log.write_text("")
    con = open_for_writing(str(db))
    expansion = expand_sources([str(log)], FollowOptions(poll_seconds=0.2))
    pipeline = Pipeline(LogWriter(con), builtin_registry(dt.UTC), min_commit_seconds=COMMIT_SECONDS)
    started: list[float] = []  # when each commit began (the pipeline times each one)
    commits: list[tuple[float, int]] = []  # (when it began, records) of each commit with records
    pipeline.commit_observers.append(lambda seconds: started.append(time.perf_counter() - seconds))
    pipeline.subscribe(lambda records: commits.append((started[-1], len(records))) if records else None)
    pipeline.add_sources(expansion.sources)
    pipeline.start()
    stop = threading.Event()
    written: list[int] = []
    writer = threading.Thread(target=lambda: written.append(grow(log, stop)))
    writer.start()
    time.sleep(GROWING_SECONDS)
    stop.set()
    writer.join()
    while_growing = list(commits)  # (the stop's last commit comes when it comes)
    time.sleep(0.5)  # the follower reads the last lines before the stop
    pipeline.request_stop()
    assert pipeline.wait(20) and pipeline.fatal is None, pipeline.fatal
    stored = con.execute("SELECT count(*) FROM logs WHERE format = 'nginx_access'").fetchone()[0]
    con.close()

    assert len(while_growing) >= 2, "followed lines waited for the stop to be committed"
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(while_growing)]
    assert min(gaps) >= ONCE_A_SECOND - 0.001, f"commits began {gaps} s apart, under {ONCE_A_SECOND} s"
    assert stored == sum(count for _, count in commits) == written[0]


# What `logscope tail` imports before it draws (cli → commands.tail → _run_app's imports).
BEFORE_THE_FIRST_SCREEN = (
    "logscope.cli",
    "logscope.commands.tail",
    "logscope.commands.tail_start",
    "logscope.tui.app",
    "logscope.tui.file_ends",
    "logscope.tui.history",
)
# Loaded after it: ~45 MB of RSS and ~0.3 s of CPU for pyarrow and numpy alone.
AFTER_THE_FIRST_SCREEN = ("pyarrow", "numpy", "logscope.pipeline.run", "logscope.alerting.engine")


def test_what_tail_imports_before_its_first_screen_leaves_out_pyarrow_numpy_and_the_pipeline() -> None:
    probe = (
        f"import sys\nfor name in {BEFORE_THE_FIRST_SCREEN!r}: __import__(name)\n"
        f"print(' '.join(name for name in {AFTER_THE_FIRST_SCREEN!r} if name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [], f"imported before tail's first screen: {result.stdout}"
