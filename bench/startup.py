"""The fixed cost of commands that load the formats, two trees alternated in the same run.

    .venv/bin/python bench/startup.py --base /tmp/main-tree [--rounds 8] [--file small.log]
    .venv/bin/python bench/startup.py --base /tmp/main-tree --phases NGINX_1M_FILE

Whole processes (`python -m logscope` with PYTHONPATH set to each tree, this venv): `query` and
`ingest --db :memory: -q` of a small nginx file (100 lines of bench/data.py's, by default), CPU
seconds (user + system) and wall, mean and min. With --phases, one process per tree and round
times (process_time) the imports, the format registry, `InPlaceQuery.connect` and the query.
The base tree: e.g. `git archive integration | tar -x -C DIR`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
SQL = "SELECT count(*) AS n FROM nginx_access WHERE status >= 500"
PHASES = """
import sys, time
clock = time.process_time
start = clock()
import duckdb
from logscope.pipeline.in_place import InPlaceQuery
imported = clock()
from datetime import UTC
from logscope.parsing.registry import load_registry
registry = load_registry(UTC)
loaded = clock()
query = InPlaceQuery([sys.argv[1]], registry)
con = query.connect(sys.argv[2])
connected = clock()
con.execute(sys.argv[2]).fetchall()
done = clock()
print(f"imports {imported - start:.3f}  registry {loaded - imported:.3f}  connect {connected - loaded:.3f}"
      f"  before the query (with Python's start) {connected:.3f}  query {done - connected:.3f}  CPU-s")
"""


def timed(args: list[str], tree: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one process run with `tree` first on the path."""
    import time

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([PYTHON, *args], cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(done.stderr)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if args[0] == "-c":
        print(f"{tree}: {done.stdout.strip()}", flush=True)
    return cpu, wall


def small_file(directory: Path) -> Path:
    path = directory / "small.log"
    subprocess.run(
        [PYTHON, str(REPO / "bench" / "data.py"), "--lines", "100", "--out", str(directory), "nginx"],
        check=True,
        capture_output=True,
    )
    nginx = next(directory.glob("nginx-*"))
    path.write_bytes(nginx.read_bytes())
    return path


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--base", type=Path, required=True, help="the tree to compare with (main)")
    options.add_argument("--rounds", type=int, default=8)
    options.add_argument("--file", type=Path, help="the small nginx file (default: 100 bench/data.py lines)")
    options.add_argument("--phases", type=Path, help="time the phases of `query` on this nginx file instead")
    args = options.parse_args()
    trees = {"base": args.base.resolve(), "this": REPO}
    for tree in trees.values():  # compiled once, as an installed package is
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(tree / "logscope")], capture_output=True)
    if args.phases:
        for _ in range(args.rounds):
            for tree in trees.values():
                timed(["-c", PHASES, str(args.phases.resolve()), SQL], tree)
        return
    with tempfile.TemporaryDirectory() as directory:
        path = args.file.resolve() if args.file else small_file(Path(directory))
        commands = {
            "query": ["-m", "logscope", "query", "--csv", SQL, str(path)],
            "ingest": ["-m", "logscope", "ingest", "--db", ":memory:", "-q", str(path)],
        }
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for label, command in commands.items():
                for name, tree in trees.items():
                    results.setdefault((label, name), []).append(timed(command, tree))
    for (label, name), runs in results.items():
        cpus, walls = [cpu for cpu, _ in runs], [wall for _, wall in runs]
        print(
            f"{label:<7} {name:<5} CPU mean {statistics.mean(cpus):.3f} min {min(cpus):.3f} s"
            f"  wall mean {statistics.mean(walls):.3f} min {min(walls):.3f} s"
            f"  (load {os.getloadavg()[0]:.1f}, {len(runs)} runs)"
        )


if __name__ == "__main__":
    main()
