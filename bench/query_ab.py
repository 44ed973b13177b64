"""`logscope query SQL FILE` as a whole process, two trees alternated in the same run.

    .venv/bin/python bench/query_ab.py --base /tmp/main-tree FILE [--rounds 3] [--sql SQL]

Each round runs the base tree and this one (`python -m logscope` with PYTHONPATH set to each,
this venv), in turn order swapped every round; per run: wall, CPU seconds of the process and its
children (wait4), peak RSS, the answer and the load; then medians. Each tree has its own formats
cache under /tmp/query_ab-cache (warm after its first run). The base tree: e.g.
`git archive integration | tar -x -C DIR`. Use bench/inplace.py for lnav and the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
SQL = "SELECT count(*) AS n FROM nginx_access WHERE status >= 500"


def run(tree: Path, sql: str, path: str) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak MB, last word of the output) of one query process from `tree`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    # Each tree keeps its own formats cache (parsing/toml_cache.py): two trees whose match_start.py
    # differ would otherwise replace each other's at every run, and both pay the TOML parse.
    env["XDG_CACHE_HOME"] = f"/tmp/query_ab-cache/{str(tree.resolve()).strip('/').replace('/', '_')}"
    start = time.perf_counter()
    command = [PYTHON, "-m", "logscope", "query", "--csv", sql, path]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd="/tmp"
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, _, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    words = output.decode().split()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, words[-1] if words else ""


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--base", type=Path, required=True, help="the tree to compare with")
    options.add_argument("--rounds", type=int, default=3)
    options.add_argument("--sql", default=SQL)
    options.add_argument("file")
    args = options.parse_args()
    trees = {"base": args.base, "this": REPO}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for number in range(args.rounds):
        for name in list(trees) if number % 2 == 0 else list(trees)[::-1]:
            load = os.getloadavg()[0]
            wall, cpu, peak, answer = run(trees[name], args.sql, args.file)
            runs[name].append((wall, cpu))
            print(
                f"{time.strftime('%H:%M:%S')} {name:5s} {wall:6.2f} s {cpu:6.2f} CPU-s {peak:5.0f} MB"
                f"  answer {answer}  (load {load:.1f})",
                flush=True,
            )
    for name, figures in runs.items():
        walls, cpus = [wall for wall, _ in figures], [cpu for _, cpu in figures]
        print(
            f"{name:5s} wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}),"
            f" CPU median {statistics.median(cpus):.2f} s (min {min(cpus):.2f})"
        )


if __name__ == "__main__":
    main()
