"""`logscope ingest` of the bench/data.py files as a user runs it, two code trees alternated.

    .venv/bin/python bench/import_speed.py --data DIR                      # this tree only
    .venv/bin/python bench/import_speed.py --data DIR --before /tmp/base   # alternated with another
    .venv/bin/python bench/import_speed.py --data DIR --before /tmp/base --before /tmp/main   # three

Each run is the whole CLI process (`python -m logscope ingest -q --db FRESH FILE`, bundled rules
on; `--no-rules` adds `--no-default-rules` runs) into a fresh database: wall seconds, lines/s and
CPU seconds and peak RSS (`wait4`), the largest size of the database's write-ahead log (`DB.wal`,
read every 0.1 s), with the load average read just before it (the machine is shared).
`--before DIR` (repeatable) runs the same commands from another checkout of the package (`git archive` of a
commit: run from there, its `logscope/` is the one imported), alternated with this tree,
so both are measured in the same minutes (docs/benchmarks.md, "Bulk import fast path").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import data  # noqa: E402

KINDS = ("nginx", "json", "logfmt", "syslog")


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # user + system, all threads
    peak_mb: float
    wal_mb: float = 0.0  # the write-ahead log's largest size seen


class FileSizeSampler:
    """The largest size of a file, read every `interval` seconds on a thread until `stop`."""

    def __init__(self, path: Path, interval: float = 0.1) -> None:
        self.path, self.interval, self.largest = path, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with contextlib.suppress(FileNotFoundError):
                self.largest = max(self.largest, self.path.stat().st_size)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> float:
        """Stop sampling; the largest size in MB."""
        self._stop.set()
        self._thread.join()
        return self.largest / 1e6


def timed(command: list[str], env: dict[str, str], cwd: Path, watch: Path | None = None) -> Run:
    """Run `command` to its end: wall time, CPU time and peak RSS (reaped with os.wait4), and the
    largest size `watch` had meanwhile."""
    sampler = FileSizeSampler(watch) if watch is not None else None
    started = time.perf_counter()
    with open(os.devnull, "rb") as stdin:
        process = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
        assert process.stderr is not None
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    wal_mb = sampler.stop() if sampler is not None else 0.0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command} failed: {errors.decode()[-500:]}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wal_mb)


def ingest(tree: Path, path: Path, db: Path, rules: bool) -> Run:
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    command = [sys.executable, "-m", "logscope", "ingest", "-q", "--db", str(db), str(path)]
    if not rules:
        command.insert(5, "--no-default-rules")
    # `-m` puts the working directory first on sys.path: the tree's `logscope` is the one run (an
    # editable install's finder wins over PYTHONPATH, not over that).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(db.parent)}
    return timed(command, env, tree, Path(f"{db}.wal"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="bench/data.py files already written there")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="*", default=["nginx", "json"], choices=KINDS)
    parser.add_argument(
        "--before", type=Path, action="append", default=[], help="another checkout (repeatable)"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--no-rules", choices=["both", "only"], help="also (both) or only time --no-default-rules"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logscope-import-"))
    files = {kind: data.write_dataset(kind, args.lines, args.data or work) for kind in args.only}
    trees = [("after", ROOT)] + [
        ("before" if len(args.before) == 1 else f"before {tree}", tree.resolve()) for tree in args.before
    ]
    modes = {"both": [True, False], "only": [False]}.get(args.no_rules, [True])
    print("| tree | file | rules | seconds | lines/s | CPU s | peak RSS MB | WAL max MB | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for round_number in range(args.rounds):
        for kind in args.only:
            path = files[kind]
            lines = args.lines
            for rules in modes:
                order = trees if round_number % 2 == 0 else list(reversed(trees))
                for name, tree in order:
                    before_load = load()
                    run = ingest(tree, path, work / f"{kind}.duckdb", rules)
                    print(
                        f"| {name} | {kind} | {'bundled' if rules else 'none'} | {run.seconds:.2f}"
                        f" | {lines / run.seconds:,.0f} | {run.cpu_seconds:.1f} | {run.peak_mb:.0f}"
                        f" | {run.wal_mb:.0f} | {before_load:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
