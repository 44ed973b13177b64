"""What log patterns cost: mining's share of ingest time, and listing the patterns of a million
stored records.

1. Mining cost: `logscope ingest` of each bench file (bench/data.py) into a fresh database with
   and without `--no-patterns`, alternating, `--runs` times each; the best run of each counts
   (wall and CPU seconds), and the CPU seconds of mining the stored records alone, in process
   (the steadiest figure on a shared machine). Goal: mining adds at most 25% to ingest time.
2. Listing: a database with `--million` nginx records (mined as ingested), then
   `logscope patterns` (the whole CLI: start, query, print), the listing query alone in process,
   and `logscope query 'SELECT 1'` (the CLI's floor: starting Python and opening the database),
   `--runs` times each; the best and the median count. Goal: under a second.

    python bench/patterns.py [--lines 200000] [--runs 3] [--million 1000000] [kinds...]

(`--lines 0` skips the first part, `--million 0` the second.)
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # bench/data.py

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from logscope.patterns.stage import PatternStage  # noqa: E402
from logscope.store.database import open_for_reading, open_for_writing  # noqa: E402
from logscope.store.patterns import MINED_TO_KEY, PatternQuery, listing_sql  # noqa: E402


def _run(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one CLI run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "logscope", *args], capture_output=True, text=True, check=False, cwd=REPO
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"logscope {args[0]} failed ({done.returncode}): {done.stderr.strip()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ingest(log: Path, db: Path, patterns: bool) -> tuple[float, float]:
    for leftover in (db, db.with_name(db.name + ".wal")):
        leftover.unlink(missing_ok=True)
    args = ["ingest", str(log), "--db", str(db), "--quiet", "--no-default-rules"]
    return _run(args if patterns else [*args, "--no-patterns"])


def mining_cost(kinds: list[str], lines: int, runs: int, data_dir: Path, workdir: Path) -> None:
    print(
        f"| file ({lines:,} lines) | ingest s, best (CPU s) | with patterns s (CPU s) | wall + | CPU +"
        " | mining alone, CPU s (share of ingest CPU) |"
    )
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        log = data.write_dataset(kind, lines, data_dir)
        plain: list[tuple[float, float]] = []
        mined: list[tuple[float, float]] = []
        for _ in range(runs):
            plain.append(ingest(log, workdir / "plain.duckdb", patterns=False))
            mined.append(ingest(log, workdir / "mined.duckdb", patterns=True))
        wall0, cpu0 = min(w for w, _ in plain), min(c for _, c in plain)
        wall1, cpu1 = min(w for w, _ in mined), min(c for _, c in mined)
        alone = min(mine_stored(workdir / "plain.duckdb") for _ in range(runs))
        print(
            f"| {kind} | {wall0:.2f} ({cpu0:.2f}) | {wall1:.2f} ({cpu1:.2f})"
            f" | {100 * (wall1 / wall0 - 1):+.1f}% | {100 * (cpu1 / cpu0 - 1):+.1f}%"
            f" | {alone:.2f} ({100 * alone / cpu0:.1f}%) |"
        )


def mine_stored(db: Path) -> float:
    """CPU seconds (this process, all threads) of mining every record of a database stored with
    `--no-patterns`, in process: the stage's own cost, without the noise of two whole runs."""
    con = open_for_writing(str(db))
    try:
        con.execute(
            "DELETE FROM record_patterns; DELETE FROM patterns; DELETE FROM meta WHERE key = ?",
            [MINED_TO_KEY],
        )
        stage = PatternStage(con)
        started = time.process_time()
        stage.catch_up()
        return time.process_time() - started
    finally:
        con.close()


def listing(million: int, runs: int, data_dir: Path, workdir: Path) -> None:
    log = data.write_dataset("nginx", million, data_dir)
    db = workdir / "million.duckdb"
    wall, _ = ingest(log, db, patterns=True)
    print(f"\n{million:,} nginx records ingested (patterns mined) in {wall:.1f} s")
    cli = [_run(["patterns", "--db", str(db), "--tsv"])[0] for _ in range(runs)]
    floor = [_run(["query", "--db", str(db), "--tsv", "SELECT 1"])[0] for _ in range(runs)]
    con = open_for_reading(str(db))
    sql = listing_sql(PatternQuery())
    in_process = []
    try:
        patterns = con.execute("SELECT count(*) FROM patterns WHERE merged_into IS NULL").fetchall()[0][0]
        for _ in range(runs):
            started = time.perf_counter()
            con.execute(sql).fetchall()
            in_process.append(time.perf_counter() - started)
    finally:
        con.close()
    print(f"{patterns} patterns")
    print("| listing | best s | median s |")
    print("|---|---|---|")
    print(f"| `logscope patterns` (CLI, start to exit) | {min(cli):.3f} | {statistics.median(cli):.3f} |")
    print(f"| the listing query alone | {min(in_process):.3f} | {statistics.median(in_process):.3f} |")
    print(f"| floor: `logscope query 'SELECT 1'` (CLI) | {min(floor):.3f} | {statistics.median(floor):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lines", type=int, default=200_000, help="lines per file for the mining cost (0: skip it)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--million", type=int, default=1_000_000, help="records for the listing (0: skip)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/logscope-bench"), help="data directory")
    parser.add_argument("kinds", nargs="*", default=list(data.GENERATORS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logscope-patterns-") as scratch:
        workdir = Path(scratch)
        if args.lines:
            mining_cost(args.kinds, args.lines, args.runs, args.out, workdir)
        if args.million:
            listing(args.million, args.runs, args.out, workdir)


if __name__ == "__main__":
    main()
