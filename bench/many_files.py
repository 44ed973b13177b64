"""Many small files: one file's fixed cost in `logscope ingest DIR` (issue 22, case 9).

Writes FILES files of 5 lines (BSD syslog), imports the directory with the real CLI (default rules
on, a fresh database), and the same lines through stdin; prints wall and CPU time (the child's
rusage, so a busy machine shows in the wall time only) and the cost per file. `--repo` runs the
CLI of another checkout (e.g. the main branch) for a before/after on the same machine. Usage:

    .venv/bin/python bench/many_files.py [--files 2000] [--repo /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINES_PER_FILE = 5


def write_files(directory: Path, count: int) -> bytes:
    directory.mkdir()
    everything = []
    for number in range(count):
        text = "".join(
            f"Dec  7 01:00:{line:02d} web-{number % 7} app[{number}]: request {line} took {number} ms\n"
            for line in range(LINES_PER_FILE)
        )
        (directory / f"app-{number:05d}.log").write_text(text)
        everything.append(text)
    return "".join(everything).encode()


def timed(command: list[str], cwd: Path, stdin: bytes | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stderr of one run."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    process.stdin.write(stdin or b"")  # type: ignore[union-attr]
    process.stdin.close()  # type: ignore[union-attr]
    stderr = process.stderr.read().decode()  # type: ignore[union-attr]
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"{command}: exit status {status}: {stderr}")
    return wall, usage.ru_utime + usage.ru_stime, stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "logscope", "ingest", "-q"]
    with tempfile.TemporaryDirectory(prefix="logscope-many-") as work:
        logs = Path(work) / "logs"
        data = write_files(logs, args.files)
        idle = timed([sys.executable, "-c", "import logscope.commands.ingest"], args.repo)
        files = timed([*cli, "--db", f"{work}/files.duckdb", str(logs)], args.repo)
        piped = timed([*cli, "--db", f"{work}/stdin.duckdb", "-"], args.repo, data)
    lines = args.files * LINES_PER_FILE
    print(f"{args.files:,} files of {LINES_PER_FILE} lines ({lines:,} lines), default rules on, {args.repo}")
    print("| input | wall (s) | CPU (s) | CPU per file (ms) |")
    print("|---|---|---|---|")
    print(f"| start-up alone (import the CLI) | {idle[0]:.2f} | {idle[1]:.2f} | |")
    for name, (wall, cpu, _) in (("the directory", files), ("the same lines on stdin", piped)):
        per_file = (cpu - idle[1]) / args.files * 1000 if name == "the directory" else None
        shown = f"{per_file:.2f}" if per_file is not None else ""
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {shown} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
