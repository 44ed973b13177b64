"""The lake (docs/lake.md): agents shipping to a DuckLake on a real PostgreSQL catalog.

1. Agents: N `logscope ingest --follow --lake` processes, each following a file a paced writer
   appends syslog lines to at RATE lines/s. Reports what reached the lake per second (from the
   fifth process, this one), the lag of each lake commit (commit time minus the receive time of
   the oldest record it holds, from `shipments`), the append-to-lake lag at the end (how long
   after the writers stop the lake holds every line), and the lake's data files before and after
   `logscope lake compact`.
2. Queries: RECORDS synthetic records written straight into a second lake in 1 M-row commits,
   then the latency of typical queries through `query --lake`'s connection (best of 3).

Starts its own PostgreSQL 15 (Debian's) in a temporary directory. Usage:

    .venv/bin/python bench/lake.py [--agents 4] [--rate 20000] [--seconds 20] [--records 10000000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from lake_helpers import PostgresCluster, lake_url  # noqa: E402

from logscope.lake.config import resolve_lake  # noqa: E402
from logscope.lake.connect import open_lake  # noqa: E402
from logscope.lake.maintenance import compact, data_files  # noqa: E402
from logscope.lake.reader import open_lake_for_reading  # noqa: E402
from logscope.lake.schema import create_tables  # noqa: E402

# Syslog-like records spread over 24 h, 4 agents, 40 hosts, 2 % errors.
T0 = "TIMESTAMPTZ '2026-12-01 00:00:00+00' + to_microseconds(r * 8640)"
SYNTHETIC = (
    f"INSERT INTO lake.logs SELECT r % 2500000, {T0}, {T0}, 'app.log', 'web' || (r % 40), 'syslog',"
    " CASE WHEN r % 50 = 0 THEN 'error' ELSE 'info' END,"
    " 'request by user ' || (r % 10007) || ' took ' || (r % 97) || ' ms', NULL,"
    " 'Dec  1 00:00:00 web' || (r % 40) || ' api: request by user ' || (r % 10007)"
    " || ' took ' || (r % 97) || ' ms',"
    " 'host' || (r % 4), 'agent' || (r % 4) FROM range({first}, {end}) t(r)"
)
QUERIES = {
    "count(*)": "SELECT count(*) FROM logs",
    "errors per agent": "SELECT agent, count(*) FROM logs WHERE level = 'error' GROUP BY 1",
    "one agent, one minute": "SELECT count(*) FROM logs WHERE agent = 'agent3'"
    " AND ts >= TIMESTAMPTZ '2026-12-01 10:00:00+00' AND ts < TIMESTAMPTZ '2026-12-01 10:01:00+00'",
    "message search (LIKE)": "SELECT count(*) FROM logs WHERE message LIKE '%user 4242 %'",
    "top hosts": "SELECT host, count(*) FROM logs GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
}


class PacedWriter(threading.Thread):
    """Appends `rate` lines/s to `path` in 10 ms slices until stopped."""

    def __init__(self, path: Path, index: int, rate: int) -> None:
        super().__init__(daemon=True)
        self.path, self.index, self.rate = path, index, rate
        self.written = 0
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        with open(self.path, "a") as handle:
            while not self.stop.is_set():
                due = int((time.monotonic() - start) * self.rate)
                if due > self.written:
                    lines = range(self.written, due)
                    handle.write(
                        "".join(
                            f"Dec  7 04:00:00 web{self.index} api[42]: GET /item/{n} 200 took {n % 97} ms\n"
                            for n in lines
                        )
                    )
                    handle.flush()
                    self.written = due
                time.sleep(0.01)


def bench_agents(postgres: PostgresCluster, tmp: Path, agents: int, rate: int, seconds: float) -> None:
    (tmp / "lake1").mkdir()
    url = lake_url(postgres.create_database("agents"), tmp / "lake1")
    config = resolve_lake(url)
    con = open_lake(config)
    create_tables(con)
    con.close()
    env = {**os.environ, "TZ": "UTC"}
    writers = [PacedWriter(tmp / f"app{i}.log", i, rate) for i in range(agents)]
    for writer in writers:
        writer.path.touch()
    procs = []
    for i in range(agents):
        command = [sys.executable, "-m", "logscope", "ingest", "--follow", "-q", "--no-patterns"]
        command += ["--no-default-rules", "--db", str(tmp / f"agent{i}.duckdb"), "--lake", url]
        command += ["--agent", f"agent{i}", str(writers[i].path)]
        procs.append(subprocess.Popen(command, env=env))
    time.sleep(3)  # the agents start
    for writer in writers:
        writer.start()
    reader = open_lake_for_reading(config)
    started = time.monotonic()
    samples = []
    while time.monotonic() - started < seconds:
        time.sleep(1)
        samples.append(
            (time.monotonic() - started, reader.execute("SELECT count(*) FROM logs").fetchone()[0])
        )
    for writer in writers:
        writer.stop.set()
    stopped = time.monotonic()
    total = sum(writer.written for writer in writers)
    while reader.execute("SELECT count(*) FROM logs").fetchone()[0] < total:
        if time.monotonic() - stopped > 300:
            break
        time.sleep(0.1)
    drained = time.monotonic() - stopped
    in_lake = reader.execute("SELECT count(*) FROM logs").fetchone()[0]
    lags = reader.execute(
        "SELECT quantile_cont(epoch(committed_at) - epoch(oldest_received_at), [0.5, 0.95, 1.0]),"
        " count(*), avg(records) FROM lake.shipments"
    ).fetchone()
    duplicates = reader.execute("SELECT count(*) - count(DISTINCT (agent, id)) FROM logs").fetchone()[0]
    reader.close()
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(60)
    steady = [b - a for (_, a), (_, b) in itertools.pairwise(samples[len(samples) // 3 :])]
    print(f"## agents: {agents} x {rate:,} lines/s offered for {seconds:.0f} s")
    print(f"written {total:,} lines; in the lake {in_lake:,}, {duplicates} twice")
    print(
        "reaching the lake while writing (last two thirds):"
        f" {sum(steady) / max(1, len(steady)):,.0f} records/s"
    )
    print(
        f"overall: {in_lake / (seconds + drained):,.0f} records/s"
        " from the first write to the last record shipped"
    )
    print(
        f"the lake held every line {drained:.1f} s after the writers stopped"
        + (" (gave up)" if in_lake < total else "")
    )
    p50, p95, top = lags[0]
    print(
        f"commits {lags[1]:,}, {lags[2]:,.0f} records each on average;"
        f" commit lag p50 {p50:.2f} s, p95 {p95:.2f} s, max {top:.2f} s"
    )
    con = open_lake(config)
    before, after = compact(con)
    con.close()
    print(f"data files: {before:,} before `lake compact`, {after:,} after")


def bench_queries(postgres: PostgresCluster, tmp: Path, records: int) -> None:
    (tmp / "lake2").mkdir()
    url = lake_url(postgres.create_database("queries"), tmp / "lake2")
    config = resolve_lake(url)
    con = open_lake(config)
    create_tables(con)
    step = 1_000_000
    started = time.monotonic()
    for first in range(0, records, step):
        count = min(step, records - first)
        con.execute(SYNTHETIC.format(first=first, end=first + count))
    loaded = time.monotonic() - started
    files = data_files(con)
    con.close()
    size = sum(f.stat().st_size for f in (tmp / "lake2").rglob("*.parquet"))
    print(
        f"## queries over {records:,} lake records ({files} files, {size / 1e6:,.0f} MB Parquet;"
        f" loaded in {loaded:.0f} s)"
    )
    reader = open_lake_for_reading(config)
    for name, sql in QUERIES.items():
        times = []
        for _ in range(3):
            began = time.perf_counter()
            reader.execute(sql).fetchall()
            times.append(time.perf_counter() - began)
        print(f"{name:24} best {min(times) * 1000:8.0f} ms   worst {max(times) * 1000:8.0f} ms")
    reader.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--rate", type=int, default=20_000, help="lines/s per agent")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--skip-agents", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    args = parser.parse_args()
    postgres = PostgresCluster()
    try:
        with tempfile.TemporaryDirectory(prefix="logscope-lake-bench-") as tmp:
            print(f"load average at start: {os.getloadavg()[0]:.1f}")
            if not args.skip_agents:
                bench_agents(postgres, Path(tmp), args.agents, args.rate, args.seconds)
            if not args.skip_queries:
                bench_queries(postgres, Path(tmp), args.records)
    finally:
        postgres.close()


if __name__ == "__main__":
    main()
