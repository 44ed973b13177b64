"""Follow-mode benchmark: how soon an appended line can be queried, and the CPU following costs.

Runs the real CLI (`logscope ingest --follow FILE`) in a subprocess. A paced writer process appends
lines at each rate; this process asks the running ingest "how many rows are there?" through its
query socket (`<db>.sock`) every few milliseconds. A line's latency is the time from its write to
the first answer that counts it: append-to-queryable, end to end. CPU is the ingest process's
user+system time over the run, as a share of one core.

A second table runs the same follow pipeline in this process (real TailSource, Pipeline and
LogWriter on a DuckDB file, no alert rules, no query service): latency to the commit callback,
exact to the microsecond, without the query poll in between. Usage:

    .venv/bin/python bench/tail_latency.py [--rates 1000,20000] [--seconds 5] [--ingest-args ARGS]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from logscope.errors import LogscopeError
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.streaming import Pipeline
from logscope.record import Record
from logscope.sources.spec import FollowOptions, expand_sources
from logscope.store.client import QueryClient, socket_path
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

WRITER = r"""
import sys, time
path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
tick = 0.001 if rate >= 1000 else 1.0 / rate
per_tick = max(1, round(rate * tick))
with open(path, "a", buffering=1) as out:
    start = time.monotonic()
    sent = 0
    while sent < rate * seconds:
        due = start + sent / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        stamp = time.time_ns()
        out.write("".join(
            f"t={stamp} seq={sent + i} level=info msg=\"request served\" path=/v1/items/{(sent + i) % 977}\n"
            for i in range(per_tick)
        ))
        sent += per_tick
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows_now(db: Path) -> int | None:
    try:
        with QueryClient(socket_path(str(db)), timeout=2) as client:
            return next(iter(client.query("SELECT count(*) FROM logs").rows()))[0]
    except (LogscopeError, OSError, StopIteration):
        return None


def wait_serving(db: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while rows_now(db) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the ingest process did not start serving")
        time.sleep(0.05)


def measure(rate: int, seconds: float, workdir: Path, extra: list[str]) -> dict[str, float]:
    log, db = workdir / f"rate{rate}.log", workdir / f"rate{rate}.duckdb"
    log.touch()
    ingest = subprocess.Popen(
        [sys.executable, "-m", "logscope", "ingest", "--follow", "-q", str(log), "--db", str(db), *extra],
        env={**os.environ, "TZ": "UTC"},
    )
    wait_serving(db, ingest)
    time.sleep(0.5)
    samples: list[tuple[int, int]] = []  # (answer time ns, rows counted)
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            count = rows_now(db)
            if count is not None:
                samples.append((time.time_ns(), count))
            time.sleep(0.002)

    poller = threading.Thread(target=poll)
    cpu_before, wall_before = cpu_seconds(ingest.pid), time.monotonic()
    poller.start()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(rate), str(seconds)])
    writer.wait()
    total = int(rate * seconds)
    deadline = time.monotonic() + 30
    while (not samples or samples[-1][1] < total) and time.monotonic() < deadline:
        time.sleep(0.05)
    cpu = (cpu_seconds(ingest.pid) - cpu_before) / (time.monotonic() - wall_before)
    stop.set()
    poller.join()
    ingest.send_signal(signal.SIGTERM)
    ingest.wait(timeout=60)
    stamps = _write_times(db)
    latencies = _latencies(stamps, samples)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(samples)]
    return {
        "rate": rate,
        "lines": len(stamps),
        "p50": _percentile(latencies, 50),
        "p99": _percentile(latencies, 99),
        "max": max(latencies),
        "cpu": cpu * 100,
        "poll": statistics.median(gaps) / 1e6 if gaps else 0.0,
    }


def measure_in_process(rate: int, seconds: float, workdir: Path) -> dict[str, float]:
    """Append-to-committed latency of the follow pipeline alone, from its commit callback."""
    log, db = workdir / f"inproc{rate}.log", workdir / f"inproc{rate}.duckdb"
    log.touch()
    con = open_for_writing(str(db))
    pipeline = Pipeline(LogWriter(con), builtin_registry(dt.UTC))
    latencies: list[float] = []

    def committed(records: list[Record]) -> None:
        now = time.time_ns()
        latencies.extend((now - int(record.raw[2:21])) / 1e6 for record in records)

    pipeline.subscribe(committed)
    for source in expand_sources([str(log)], FollowOptions()).sources:
        pipeline.add_source(source)
    pipeline.start()
    time.sleep(0.5)
    cpu_before, wall_before = time.process_time(), time.monotonic()
    subprocess.run([sys.executable, "-c", WRITER, str(log), str(rate), str(seconds)], check=True)
    deadline = time.monotonic() + 30
    while len(latencies) < int(rate * seconds) and time.monotonic() < deadline:
        time.sleep(0.01)
    cpu = (time.process_time() - cpu_before) / (time.monotonic() - wall_before)
    pipeline.request_stop()
    pipeline.wait(30)
    con.close()
    return {
        "rate": rate,
        "lines": len(latencies),
        "p50": _percentile(latencies, 50),
        "p99": _percentile(latencies, 99),
        "max": max(latencies),
        "cpu": cpu * 100,
    }


def _write_times(db: Path) -> list[int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT CAST(regexp_extract(raw, 't=(\\d+)', 1) AS BIGINT) FROM logs ORDER BY id"
        ).fetchall()
    finally:
        con.close()
    return [row[0] for row in rows]


def _latencies(stamps: list[int], samples: list[tuple[int, int]]) -> list[float]:
    """Milliseconds from each line's write to the first answer that counted it."""
    latencies = []
    sample = 0
    for index, written in enumerate(stamps):
        while sample < len(samples) and samples[sample][1] <= index:
            sample += 1
        if sample == len(samples):
            break
        latencies.append((samples[sample][0] - written) / 1e6)
    return latencies


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,20000", help="lines per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the writer writes")
    parser.add_argument("--ingest-args", default="", help="extra `ingest` options, e.g. '--no-default-rules'")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}, CPUs: {os.cpu_count()}")
    print("| lines/s | lines | p50 ms | p99 ms | max ms | ingest CPU (% of a core) | query poll ms |")
    print("|---|---|---|---|---|---|---|")
    rates = [int(rate) for rate in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="logscope-tail-bench-") as workdir:
        for rate in rates:
            r = measure(rate, args.seconds, Path(workdir), args.ingest_args.split())
            print(
                f"| {r['rate']:,} | {r['lines']:,} | {r['p50']:.0f} | {r['p99']:.0f} | {r['max']:.0f}"
                f" | {r['cpu']:.0f} | {r['poll']:.1f} |",
                flush=True,
            )
        print(f"\nin-process follow pipeline, append-to-commit (load average {os.getloadavg()[0]:.1f}):")
        print("| lines/s | lines | p50 ms | p99 ms | max ms | CPU (% of a core, incl. writer thread) |")
        print("|---|---|---|---|---|---|")
        for rate in rates:
            r = measure_in_process(rate, args.seconds, Path(workdir))
            print(
                f"| {r['rate']:,} | {r['lines']:,} | {r['p50']:.0f} | {r['p99']:.0f} | {r['max']:.0f}"
                f" | {r['cpu']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
