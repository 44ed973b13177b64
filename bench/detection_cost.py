"""What format detection costs on a 1 M-line file, as a share of importing it (issue 16).

For each file: the import time (`BulkImporter`, as `logscope ingest FILE` without rules, into a
fresh DuckDB file), the time detection takes inside it (the first 64 lines tried against every
format and ranked: `SourceParser` sampling), and what `logscope formats detect` does (score every
format on the first 1000 lines). Files: nginx combined and JSON lines from bench/data.py, and a
Python-logging layout no built-in format knows (read by `generic`, tracebacks joined).

    python bench/detection_cost.py [--lines 1000000] [--kinds nginx,json,generic]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # bench/data.py

from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import SAMPLE_LINES, SourceParser, score_lines
from logscope.pipeline.bulk import BulkImporter
from logscope.record import LineBatch
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter


def generic_lines(count: int) -> list[str]:
    """`%(asctime)s %(process)d [%(threadName)s] %(levelname)s %(name)s: %(message)s`, with a
    three-line traceback after every 50th record."""
    start = datetime(2026, 12, 6, tzinfo=UTC)
    lines: list[str] = []
    n = 0
    while len(lines) < count:
        when = (start + timedelta(milliseconds=37 * n)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        level = ("INFO", "DEBUG", "WARNING", "ERROR")[n % 4]
        lines.append(f"{when} 4242 [worker-{n % 8}] {level} shop.orders: order {n} handled in {n % 97} ms")
        if n % 50 == 0:
            lines.append("Traceback (most recent call last):")
            lines += ['  File "app.py", line 3, in <module>', "KeyError: 'x'"]
        n += 1
    return lines[:count]


def write(kind: str, count: int, folder: Path) -> Path:
    if kind == "generic":
        path = folder / "app.log"
        path.write_text("\n".join(generic_lines(count)) + "\n")
        return path
    return data.write_dataset(kind, count, folder)


def import_seconds(path: Path, folder: Path) -> tuple[float, str]:
    registry = builtin_registry(UTC)
    con = open_for_writing(str(folder / f"{path.name}.duckdb"))
    started = time.perf_counter()
    result = BulkImporter(LogWriter(con), registry).import_file(str(path))
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed, f"{result.formats.most_common(1)[0][0]} (plan: {result.plan})"


def detection_seconds(lines: list[str]) -> float:
    """Best of 5: the sampling a source's parser does on its first lines."""
    registry = builtin_registry(UTC)
    best = float("inf")
    for _ in range(5):
        parser = SourceParser(registry)
        started = time.perf_counter()
        parser.parse_batch(LineBatch("bench", lines[:SAMPLE_LINES]))
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="nginx,json,generic")
    args = parser.parse_args()
    header = f"{'file':<8} {'lines':>9} {'import s':>9} {'detect ms':>10} {'share':>8} {'detect cmd ms':>14}"
    print(f"{header}  format")
    for kind in args.kinds.split(","):
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            path = write(kind, args.lines, folder)
            with path.open() as handle:
                head = [line.rstrip("\n") for line in islice(handle, 1000)]
            imported, detected = import_seconds(path, folder)
            detect = detection_seconds(head)
            started = time.perf_counter()
            score_lines(builtin_registry(UTC), head)
            command = time.perf_counter() - started
            print(
                f"{kind:<8} {args.lines:>9,} {imported:>9.2f} {detect * 1000:>10.2f} "
                f"{detect / imported:>8.3%} {command * 1000:>14.1f}  {detected}"
            )


if __name__ == "__main__":
    main()
