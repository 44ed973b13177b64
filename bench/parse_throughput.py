"""Parse throughput per format family, in lines per second (one core, no storage).

Each family is parsed the way a source is: `SourceParser` with auto-detection over the full
registry (`detect`), and with the format forced (`forced`). Inputs:
- nginx combined, JSON lines, logfmt and syslog from bench/data.py (deterministic, varied times);
- the loghub corpus systems (../shared/corpus/loghub) when present, repeated to the line count;
- Java log4j lines with stack traces (multiline), and a raw-heavy file no format matches.

    python bench/parse_throughput.py [--lines 100000] [--lnav]

Each figure is the best of three runs (the machine is shared; the best run is the least disturbed).

`--lnav` also times `lnav -n` loading the nginx file (lnav parses it with its own access_log
format), for comparison; lnav's figure includes its startup and indexing.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from itertools import cycle, islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # bench/data.py

from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import SourceParser
from logscope.record import LineBatch

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "loghub"
BATCH = 4096


def java_lines(count: int) -> Iterator[str]:
    """log4j lines; every tenth record carries a 12-line stack trace."""
    produced = 0
    second = 0
    while produced < count:
        second += 1
        clock = f"{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        stamp = f"2026-11-20 {clock},{second % 1000:03d}"
        yield f"{stamp} INFO [worker-{second % 8}] com.example.service.Handler: handled request {second}"
        produced += 1
        if second % 10 == 0:
            yield f"{stamp} ERROR [worker-1] com.example.service.Handler: request {second} failed"
            yield "java.lang.IllegalStateException: boom"
            for frame in range(10):
                yield f"\tat com.example.service.Layer{frame}.call(Layer{frame}.java:{frame + 20})"
            produced += 12


def raw_lines(count: int) -> Iterator[str]:
    """Lines no format accepts (free text), the worst case for per-line fallback."""
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    for n in range(count):
        yield f"~ free text {words[n % 6]} number {n} without any structure at all"


def corpus_lines(system: str, count: int) -> list[str] | None:
    path = CORPUS / system / f"{system}_2k.log"
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return list(islice(cycle(lines), count))


def families(count: int) -> dict[str, Callable[[], list[str] | None]]:
    """Each family's lines, made only when it is measured (so one family's data never weighs on
    another's figure through the garbage collector)."""
    found: dict[str, Callable[[], list[str] | None]] = {
        "nginx_access": lambda: list(data.nginx_lines(count)),
        "json": lambda: list(data.json_lines(count)),
        "logfmt": lambda: list(data.logfmt_lines(count)),
        "syslog": lambda: list(data.syslog_lines(count)),
        "log4j+traces": lambda: list(java_lines(count)),
        "raw (no match)": lambda: list(raw_lines(count)),
    }
    for system in ("Apache", "HDFS", "Hadoop", "Spark", "Zookeeper", "OpenSSH", "Linux", "Android", "BGL"):
        found[f"loghub {system}"] = lambda system=system: corpus_lines(system, count)
    return found


def throughput(lines: list[str], forced: str | None, repeat: int = 3) -> tuple[float, str, float]:
    """(best lines/s of `repeat` runs, format chosen, share of non-raw records)."""
    runs = [_one_run(lines, forced) for _ in range(repeat)]
    return max(run[0] for run in runs), runs[0][1], runs[0][2]


def _one_run(lines: list[str], forced: str | None) -> tuple[float, str, float]:
    registry = builtin_registry(UTC)
    parser = SourceParser(registry, registry.get(forced) if forced else None)
    start = time.perf_counter()
    records = []
    for offset in range(0, len(lines), BATCH):
        chunk = lines[offset : offset + BATCH]
        records.extend(parser.parse_batch(LineBatch("bench", chunk, final=offset + BATCH >= len(lines))))
    elapsed = time.perf_counter() - start
    parsed = sum(1 for record in records if record.format != "raw")
    return len(lines) / elapsed, parser.detected, parsed / max(1, len(records))


def lnav_seconds(lines: list[str]) -> float | None:
    lnav = shutil.which("lnav")
    if lnav is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "access.log"
        path.write_text("\n".join(lines) + "\n")
        start = time.perf_counter()
        subprocess.run(
            [lnav, "-n", "-c", ";SELECT count(*) FROM access_log", str(path)],
            check=False,
            capture_output=True,
            env={"HOME": folder, "PATH": "/usr/bin:/bin"},
        )
        return time.perf_counter() - start


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=100_000, help="lines per family (default 100000)")
    options.add_argument("--lnav", action="store_true", help="also time lnav on the nginx file")
    args = options.parse_args()
    print(f"{'family':<18} {'detected':<16} {'parsed':>7} {'detect lines/s':>15} {'forced lines/s':>15}")
    for family, make in families(args.lines).items():
        lines = make()
        if lines is None:
            continue  # the corpus is not here
        gc.collect()
        rate, detected, parsed = throughput(lines, None)
        forced = detected if detected != "raw" else None
        forced_rate = throughput(lines, forced)[0] if forced else rate
        print(f"{family:<18} {detected:<16} {parsed:>7.1%} {rate:>15,.0f} {forced_rate:>15,.0f}")
        del lines
    if args.lnav:
        lines = list(data.nginx_lines(args.lines))
        seconds = lnav_seconds(lines)
        if seconds is None:
            print("lnav: not installed")
        else:
            rate = len(lines) / seconds
            print(f"lnav -n on nginx_access: {seconds:.2f} s, {rate:,.0f} lines/s (startup included)")


if __name__ == "__main__":
    main()
