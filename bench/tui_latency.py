"""TUI benchmark: key-press-to-screen-update latency with lines arriving, and peak memory.

Phase 1 pipes --lines log lines as fast as the pipeline takes them into a DuckDB file while the
app follows them live, then reports the process's peak RSS. Phase 2 keeps --rate lines/s
arriving and presses keys (cursor up, page up, a level toggle and back, End) every --gap
seconds, timing each from the key event entering the app to the first frame drawn after the
key's action ran (for the level toggle: after the re-filtered records were shown). The app
runs headless in this process (Textual's pilot), so the frames are composed and rendered
exactly as in a terminal but not written out.

    .venv/bin/python bench/tui_latency.py                   # 5,000,000 lines, 20,000 lines/s
    .venv/bin/python bench/tui_latency.py --lines 500000    # shorter
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

from textual import events

from logscope.commands.tail import DEFAULT_MEMORY_LIMIT, PipeReader
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.streaming import Pipeline
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter
from logscope.tui.app import LogscopeApp
from logscope.tui.live import LiveFeed

# A producer process: `lines` lines flat out, then `rate` lines/s until killed (mixed JSON/logfmt).
PRODUCER = r"""
import sys, time
lines, rate = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
levels = ("info", "info", "debug", "warning", "info", "error", "info", "debug")
def batch(start, count, t0):
    parts = []
    for i in range(start, start + count):
        level = levels[i % 8]
        ms = t0 + i // 20
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
        if i % 2:
            parts.append(f'{{"ts": "{stamp}", "level": "{level}", "msg": "request {i} done",'
                         f' "service": "api-{i % 7}", "status": {200 + (i % 5) * 100}, "ms": {i % 997}}}\n')
        else:
            parts.append(f'ts={stamp} level={level} msg="job {i} step" worker=w{i % 13} user=u{i % 101}\n')
    return "".join(parts).encode()
t0 = 1_795_615_200_000
sent = 0
while sent < lines:
    count = min(10_000, lines - sent)
    out.write(batch(sent, count, t0))
    sent += count
out.flush()
if rate <= 0:
    sys.exit(0)
tick = 0.01
per_tick = max(1, int(rate * tick))
next_at = time.monotonic()
while True:
    out.write(batch(sent, per_tick, t0))
    out.flush()
    sent += per_tick
    next_at += tick
    delay = next_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""

KEYS = ("up", "pageup", "up", "6", "6", "end")
# What has to have run before a frame counts: the key's action, or for a level toggle the filtered
# records arriving from the worker that counts and fetches them.
HOOKED_ACTIONS = {"up": "action_cursor", "pageup": "action_page", "end": "action_follow", "6": "_show_loaded"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class FrameClock:
    """Times from a key event entering the app to the first frame after its action ran."""

    def __init__(self, app: LogscopeApp) -> None:
        self.app = app
        self.sent_at: float | None = None
        self.handled = False
        self.latencies: dict[str, list[float]] = {key: [] for key in HOOKED_ACTIONS}
        self.key = ""
        self.done = asyncio.Event()
        original_display = app._display

        def display(screen, renderable) -> None:
            original_display(screen, renderable)
            if renderable is not None and self.sent_at is not None and self.handled:
                self.latencies[self.key].append(time.perf_counter() - self.sent_at)
                self.sent_at = None
                self.done.set()

        app._display = display

    def hook_actions(self) -> None:
        for owner in (self.app.log_view, self.app):
            for name in set(HOOKED_ACTIONS.values()):
                original = getattr(owner, name, None)
                if original is None:
                    continue

                def wrapped(*args, _original=original):
                    result = _original(*args)
                    self.handled = True
                    return result

                setattr(owner, name, wrapped)

    async def press(self, key: str) -> None:
        self.key, self.handled = key, False
        self.done.clear()
        self.sent_at = time.perf_counter()
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        await asyncio.wait_for(self.done.wait(), 10)


async def run(args: argparse.Namespace) -> None:
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="logscope-bench-"))
    db = workdir / "tui-bench.duckdb"
    for leftover in (db, Path(f"{db}.wal")):
        leftover.unlink(missing_ok=True)
    con = open_for_writing(str(db))
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    read_fd, write_fd = os.pipe()
    producer = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(args.lines), str(args.rate)], stdout=write_fd
    )
    os.close(write_fd)
    pipeline = Pipeline(LogWriter(con), builtin_registry(UTC))
    pipeline.add_source(PipeReader(read_fd))
    feed = LiveFeed(pipeline)
    app = LogscopeApp(con, feed=feed, freeze_heap=True)  # as `logscope tail` builds it
    clock = FrameClock(app)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            clock.hook_actions()
            started = time.monotonic()
            pipeline.start()
            while feed.committed < args.lines:
                await pilot.pause(1.0)
                if not args.quiet:
                    print(f"  {feed.committed:>11,} lines  rss {current_rss_mb():6.0f} MB", file=sys.stderr)
            seconds = time.monotonic() - started
            print(
                f"ingested {feed.committed:,} lines in {seconds:.1f} s"
                f" ({feed.committed / seconds:,.0f} lines/s)"
                f" with the app following; view total {app.log_view.total:,}"
            )
            print(
                f"peak RSS after {args.lines:,} lines: {peak_rss_mb():.0f} MB"
                f" (now {current_rss_mb():.0f} MB; DuckDB file {db.stat().st_size / 2**20:,.0f} MB)"
            )
            await pilot.pause(2.0)  # the producer is now at --rate lines/s
            before = feed.committed
            measure_started = time.monotonic()
            for index in range(args.presses):
                await clock.press(KEYS[index % len(KEYS)])
                await asyncio.sleep(args.gap)
            elapsed = time.monotonic() - measure_started
            arriving = (feed.committed - before) / elapsed
            print(
                f"key press to screen update with {arriving:,.0f} lines/s arriving ({args.presses} presses):"
            )
            everything = []
            for key, values in clock.latencies.items():
                if values:
                    everything += values
                    print(f"  {key:7} {summary(values)}")
            print(f"  all     {summary(everything)}")
            print(f"peak RSS at the end: {peak_rss_mb():.0f} MB")
    finally:
        producer.kill()
        producer.wait()
        pipeline.request_stop()
        pipeline.wait(10)
        con.close()
        if not args.dir:
            for leftover in (db, Path(f"{db}.wal")):
                leftover.unlink(missing_ok=True)
            workdir.rmdir()


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  max {ms[-1]:6.1f} ms  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000, help="lines ingested before measuring")
    parser.add_argument("--rate", type=int, default=20_000, help="lines/s arriving while keys are pressed")
    parser.add_argument("--presses", type=int, default=60, help="key presses to time")
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between key presses")
    parser.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT, help="DuckDB memory limit")
    parser.add_argument("--dir", help="where the DuckDB file goes (default: a temporary directory)")
    parser.add_argument(
        "--switch-interval", type=float, default=0.005, help="Python thread switch interval, seconds"
    )
    parser.add_argument(
        "--lnav", action="store_true", help="also: lnav's peak memory opening the same lines as a file"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    sys.setswitchinterval(args.switch_interval)
    asyncio.run(run(args))
    if args.lnav:
        lnav_memory(args.lines, args.dir)


def lnav_memory(lines: int, directory: str | None) -> None:
    """lnav 'opening' the same lines from a file (headless, one SQL count): its peak RSS."""
    lnav = shutil.which("lnav")
    if lnav is None:
        print("lnav: not installed")
        return
    with tempfile.TemporaryDirectory(dir=directory) as workdir:
        path = Path(workdir) / "lines.log"
        with path.open("wb") as out:
            subprocess.run([sys.executable, "-c", PRODUCER, str(lines), "0"], stdout=out, check=True)
        started = time.monotonic()
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%M", lnav, "-n", "-c", ";SELECT count(*) FROM all_logs", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "HOME": workdir},
        )
        seconds = time.monotonic() - started
        peak_kb = int(result.stderr.strip().splitlines()[-1])
        size = path.stat().st_size / 2**20
        print(
            f"lnav {lines:,} lines ({size:,.0f} MB file): peak RSS {peak_kb / 1024:.0f} MB, {seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
