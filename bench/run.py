"""logscope's benchmark suite: one entry point, one summary table (docs/benchmarks.md).

    .venv/bin/python bench/run.py                    # 1,000,000 lines per format, everything
    .venv/bin/python bench/run.py --lines 100000     # a quick run
    .venv/bin/python bench/run.py --skip-others      # bulk import, lnav and regex engines only

What it measures, every figure on this machine in this run:
1. Bulk import per format (bench/data.py files: nginx combined, JSON lines, logfmt, syslog):
   `logscope ingest` of a fresh file into a fresh DuckDB file, the whole CLI process: lines/s,
   MB/s, peak RSS. With `--streaming`, the same files through the streaming path for comparison.
2. nginx: `logscope ingest` + the first `logscope query` against lnav answering the same count
   (`lnav -n -c ';SELECT count(*) FROM access_log WHERE sc_status >= 500'`) on the same file.
   lnav is installed from Debian (apt-get) when missing (bench/lnav.py). Also timed on the same
   file: DuckDB alone persisting only the raw lines and extracting the status at query time
   (bench/duckdb_floor.py), the floor of any design that keeps every line in DuckDB; and
   DuckDB's `read_ndjson` alone persisting the JSON file, the floor of a JSON import.
3. Regex engines on every built-in pattern: Python `re`, the `regex` module, and RE2 as the fast
   path runs it (pyarrow `extract_regex` over an Arrow array).
4. The other helpers' benchmarks, run as they are: live-tail append-to-queryable latency at
   20,000 lines/s (bench/tail_latency.py), line-to-alert latency (bench/rules_overhead.py) and
   TCP messages/s (bench/network.py).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import data  # noqa: E402
import lnav  # noqa: E402

PYTHON = sys.executable
NGINX_SQL = "SELECT count(*) FROM nginx_access WHERE status >= 500"


@dataclass
class Import:
    kind: str
    lines: int
    megabytes: float
    seconds: float
    peak_mb: float
    rows: int
    path: str = "bulk"

    @property
    def rate(self) -> float:
        return self.lines / self.seconds

    @property
    def mb_rate(self) -> float:
        return self.megabytes / self.seconds


def logscope(*args: str) -> list[str]:
    return [PYTHON, "-m", "logscope", *args]


def count_rows(db: Path) -> int:
    result = subprocess.run(
        logscope("query", "--db", str(db), "--csv", "SELECT count(*) FROM logs"),
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.split()[-1])


def ingest(kind: str, path: Path, work: Path, streaming: bool = False) -> tuple[Import, Path]:
    """Time one whole-process import of `path` into a fresh database."""
    db = work / f"{kind}-{'streaming' if streaming else 'bulk'}.duckdb"
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    if streaming:
        command = [PYTHON, str(Path(__file__).resolve()), "--_streaming", str(path), str(db)]
    else:
        command = logscope("ingest", "-q", "--no-default-rules", "--db", str(db), str(path))
    run = lnav.timed(command)
    with open(path, "rb") as lines_of:
        lines = sum(1 for _ in lines_of)
    size = path.stat().st_size / 1e6
    result = Import(kind, lines, size, run.seconds, run.peak_mb, count_rows(db))
    result.path = "streaming" if streaming else "bulk"
    return result, db


def first_query(db: Path) -> tuple[lnav.Run, int]:
    run = lnav.timed(logscope("query", "--db", str(db), "--csv", NGINX_SQL))
    return run, int(run.stdout.split()[-1])


def streaming_import(path: str, db: str) -> None:
    """The streaming path alone (what `ingest` did before the fast path), for comparison."""
    from datetime import UTC

    from logscope.parsing.registry import load_registry
    from logscope.pipeline.streaming import Pipeline
    from logscope.sources.readers import FileReader
    from logscope.store.database import open_for_writing
    from logscope.store.writer import LogWriter

    con = open_for_writing(db)
    pipeline = Pipeline(LogWriter(con), load_registry(UTC))
    pipeline.add_source(FileReader(path))
    pipeline.run()
    con.close()


def regex_engines(sample_lines: int) -> list[tuple[str, float, float, float | None, str]]:
    """Per built-in regex format: M lines/s with `re`, `regex`, RE2 (Arrow); which `re` picks."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import regex as regex_module

    from logscope.parsing.loader import builtin_files, definitions_in
    from logscope.parsing.vectorized.re2 import re2_pattern

    rows = []
    for definition in definitions_in(builtin_files()):
        lines = [line for sample in definition.samples for line in sample.lines]
        lines = (lines * (sample_lines // max(1, len(lines)) + 1))[:sample_lines]
        pattern = definition.patterns[0]
        rates = []
        for engine in (re, regex_module):
            try:
                compiled = engine.compile(pattern)
            except Exception:
                rates.append(float("nan"))
                continue
            started = time.perf_counter()
            for line in lines:
                match = compiled.match(line)
                if match is not None:
                    match.groupdict()
            rates.append(len(lines) / (time.perf_counter() - started) / 1e6)
        converted = re2_pattern(pattern)
        re2_rate = None
        if converted is not None:
            array = pa.array(lines, pa.string())
            started = time.perf_counter()
            pc.extract_regex(array, converted)
            re2_rate = len(lines) / (time.perf_counter() - started) / 1e6
        chosen = "re" if rates[0] == rates[0] else "regex"  # compile_pattern: re unless it cannot
        rows.append((definition.name, rates[0], rates[1], re2_rate, chosen))
    return rows


def run_other(script: str, args: list[str]) -> str:
    """Another helper's benchmark script, run as it is; its output."""
    path = BENCH / script
    if not path.exists():
        return f"({script} not found)"
    result = subprocess.run([PYTHON, str(path), *args], capture_output=True, text=True, check=False)
    return result.stdout + (
        f"\n(exit {result.returncode}: {result.stderr[-400:]})" if result.returncode else ""
    )


def _tail_latency(work: Path) -> tuple[str, str]:
    """p50/p99 of append-to-queryable at 20,000 lines/s, via bench/tail_latency.py's measure()."""
    try:
        import tail_latency
    except ImportError:
        return "n/a", "bench/tail_latency.py not found"
    with tempfile.TemporaryDirectory(prefix="logscope-tail-", dir=work) as fresh:
        result = tail_latency.measure(20_000, 5.0, Path(fresh), ["--no-default-rules"])
    figure = f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms ({result['lines']:,} lines)"
    return figure, "met" if result["p99"] < 250 else "missed"


def _alert_latency() -> tuple[str, str]:
    output = run_other("rules_overhead.py", ["--skip-throughput", "--probes", "150"])
    found = re.search(r"p50 (\d+) ms, p90 \d+ ms, p99 (\d+) ms", output)
    if not found:
        return "n/a", output.strip()[-300:]
    return f"p50 {found[1]} ms, p99 {found[2]} ms", "met" if int(found[2]) < 500 else "missed"


def _tcp_rate() -> tuple[str, str]:
    output = run_other("network.py", ["--skip-udp", "--clients", "4", "--messages", "50000"])
    found = re.search(r"\|\s*\d+\s*\|\s*([\d,]+)\s*\|\s*([\d,]+)\s*\|[^|]*\|[^|]*\|\s*([\d,]+)\s*\|", output)
    if not found:
        return "n/a", output.strip()[-300:]
    return f"{found[3]} messages/s ({found[2]} of {found[1]} stored)", ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per generated file")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "logscope-bench")
    parser.add_argument("--kinds", default="nginx,json,logfmt,syslog", help="formats to import")
    parser.add_argument("--streaming", action="store_true", help="also time the streaming path")
    parser.add_argument("--skip-others", action="store_true", help="no tail/alert/TCP benchmarks")
    parser.add_argument("--_streaming", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._streaming:
        streaming_import(*args._streaming)
        return
    os.chdir(ROOT)
    print(f"logscope benchmarks: {os.cpu_count()} CPUs, Python {sys.version.split()[0]},", end=" ")
    print(f"load average {os.getloadavg()[0]:.1f}, {args.lines:,} lines per file", flush=True)
    summary: list[tuple[str, str, str, str]] = []
    work = args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    imports: dict[str, tuple[Import, Path]] = {}
    print("\n## Bulk import (whole `logscope ingest` process, fresh file and database)")
    print("| format | lines | MB | seconds | lines/s | MB/s | peak RSS MB | rows | path |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in args.kinds.split(","):
        path = data.write_dataset(kind, args.lines, args.out)
        for streaming in (False, True) if args.streaming else (False,):
            result, db = ingest(kind, path, work, streaming)
            if not streaming:
                imports[kind] = (result, db)
            print(
                f"| {kind} | {result.lines:,} | {result.megabytes:.0f} | {result.seconds:.2f}"
                f" | {result.rate:,.0f} | {result.mb_rate:.1f} | {result.peak_mb:.0f} | {result.rows:,}"
                f" | {result.path} |",
                flush=True,
            )
    for kind, (result, _) in imports.items():
        target, met = ("400,000 lines/s", result.rate >= 400_000) if kind == "json" else ("", None)
        summary.append(
            (
                f"bulk import, {kind}",
                f"{result.rate:,.0f} lines/s, {result.mb_rate:.1f} MB/s",
                target,
                "" if met is None else ("met" if met else "missed"),
            )
        )
    if "json" in imports:
        summary.append(_json_floor(*imports["json"], args.out))
    peak = max(result.peak_mb for result, _ in imports.values()) if imports else 0
    summary.append(
        ("peak memory of an import", f"{peak:.0f} MB", "< 300 MB", "met" if peak < 300 else "missed")
    )
    if "nginx" in imports:
        summary += _versus_lnav(imports["nginx"], args.out)
    print("\n## Regex engines (built-in patterns on their samples, one core, M lines/s)")
    print("| format | re | regex | RE2 (Arrow, fast path) | compile_pattern uses |")
    print("|---|---|---|---|---|")
    for name, re_rate, regex_rate, re2_rate, chosen in regex_engines(20_000):
        re2 = f"{re2_rate:.2f}" if re2_rate is not None else "no plan"
        print(f"| {name} | {re_rate:.2f} | {regex_rate:.2f} | {re2} | {chosen} |", flush=True)
    if not args.skip_others:
        summary.append(("live tail, append-to-queryable at 20,000 lines/s", *_tail_latency(work)))
        summary[-1] = (*summary[-1][:2], "p99 < 250 ms", summary[-1][2])
        figure, met = _alert_latency()
        summary.append(("line-to-alert latency (follow mode, 50 rules)", figure, "", met))
        figure, note = _tcp_rate()
        summary.append(("TCP ingest, 4 clients", figure, "", note))
        print("\n## Querying files in place (bench/inplace.py)")
        print(run_other("inplace.py", ["--lines", str(args.lines), "--rounds", "1"]), flush=True)
    print("\n## Summary")
    print("| measure | figure | target | |")
    print("|---|---|---|---|")
    for row in summary:
        print("| " + " | ".join(row) + " |")


def _json_floor(result: Import, db: Path, out: Path) -> tuple[str, str, str, str]:
    """DuckDB's own `read_ndjson` persisting the same JSON file: the least a JSON import can do."""
    path = data.write_dataset("json", result.lines, out)
    floor = lnav.timed([PYTHON, str(BENCH / "duckdb_floor.py"), "json", str(path), f"{db}.floor"])
    rate = result.lines / floor.seconds
    print(f"\nfloor, json: DuckDB's read_ndjson alone {floor.seconds:.2f} s, {rate:,.0f} lines/s", flush=True)
    return ("the floor: DuckDB's read_ndjson alone, json", f"{rate:,.0f} lines/s", "", "")


def _versus_lnav(nginx: tuple[Import, Path], out: Path) -> list[tuple[str, str, str, str]]:
    result, db = nginx
    query, answer = first_query(db)
    ours = result.seconds + query.seconds
    lnav_path = lnav.ensure_lnav()
    nginx_path = data.write_dataset("nginx", result.lines, out)
    theirs, lnav_answer = lnav.lnav_query(lnav_path, nginx_path)
    ratio = theirs.seconds / ours
    print("\n## nginx: ingest + first query vs lnav (same file, same run)")
    print("| tool | seconds | peak RSS MB | answer |")
    print("|---|---|---|---|")
    print(f"| logscope ingest | {result.seconds:.2f} | {result.peak_mb:.0f} | |")
    print(f"| logscope query `{NGINX_SQL}` | {query.seconds:.2f} | {query.peak_mb:.0f} | {answer:,} |")
    print(f"| logscope total | {ours:.2f} | | |")
    print(
        f"| {lnav.lnav_version(lnav_path)} `-n -c ';{lnav.NGINX_QUERY}'` | {theirs.seconds:.2f}"
        f" | {theirs.peak_mb:.0f} | {lnav_answer if lnav_answer is not None else '?'} |"
    )
    floor = lnav.timed([PYTHON, str(BENCH / "duckdb_floor.py"), "nginx", str(nginx_path), f"{db}.floor"])
    print(
        f"| floor: DuckDB alone, raw lines only, status extracted at query time (bench/duckdb_floor.py)"
        f" | {floor.seconds:.2f} | {floor.peak_mb:.0f} | {int(floor.stdout.split()[-1]):,} |"
    )
    same = "same answer" if lnav_answer == answer else f"answers differ: {answer} vs {lnav_answer}"
    floor_ratio = theirs.seconds / floor.seconds
    print(f"\nlnav / logscope: {ratio:.2f}x ({same}); lnav / floor: {floor_ratio:.2f}x", flush=True)
    return [
        (
            "nginx ingest + first query vs lnav",
            f"{ours:.2f} s vs lnav {theirs.seconds:.2f} s: {ratio:.2f}x",
            ">= 2x faster",
            "met" if ratio >= 2 else "missed",
        ),
        (
            "the floor: DuckDB alone storing only raw lines, vs lnav",
            f"{floor.seconds:.2f} s vs lnav {theirs.seconds:.2f} s: {floor_ratio:.2f}x",
            "",
            "",
        ),
    ]


if __name__ == "__main__":
    main()
