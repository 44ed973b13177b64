"""What alert rules cost: ingest throughput with 50 rules vs none, and line-to-alert latency.

1. Throughput: `logscope ingest` of the same nginx combined file (bench/data.py) into a fresh
   database, with `--no-default-rules` and no rules, then with 50 rules of every kind (threshold,
   match, ratio, spike, absence, new_value over typed fields, regexes and groups). Goal: at most
   20 % slower. Each configuration runs `--runs` times, alternating; the best run counts.
2. Latency in follow mode: `logscope ingest --follow FILE --alerts-out -` with the 50 rules plus
   a probe rule; a writer appends a probe line every 20 ms among background lines, and the time
   from the write to the probe's alert on stdout is measured. Goal: p99 under 500 ms.

3. With `--backtest`: the CPU seconds of `logscope rules backtest` of the same file through the
   50 rules (parsing and the engine, nothing stored), the figure least moved by other processes
   on a shared machine; `PYTHONPATH=TREE` runs another tree's logscope with this script.

4. With `--engine`: the CPU seconds of the rule engine alone, in process: the file ingested
   without rules, its records read back in one batch and fed to `RuleEngine` with the 50 rules
   (each run in a fresh process, so `PYTHONPATH=TREE` measures that tree's engine).

    python bench/rules_overhead.py [--lines 300000] [--runs 3] [--probes 300] [--backtest] [--engine]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # bench/data.py

REPO = Path(__file__).resolve().parent.parent


def fifty_rules() -> str:
    """50 rules of every counting kind over the nginx format's fields."""
    rules = []

    def add(name: str, kind: str, body: str) -> None:
        rules.append(f'[[rule]]\nname = "{name}"\nkind = "{kind}"\n{body}\n')

    for index, status in enumerate([200, 201, 301, 302, 304, 400, 401, 403, 404, 429]):
        add(
            f"status_{status}",
            "threshold",
            f'where = "status = {status}"\ngroup_by = ["client"]\nwindow = "1m"\nthreshold = {500 + index}',
        )
    for index, prefix in enumerate(
        ["/api/v1/items", "/api/v1/users", "/static", "/login", "/search", "/images", "/logout", "/index"]
    ):
        add(
            f"errors_{index}",
            "match",
            f'where = "path LIKE \'{prefix}%\' AND status >= 500"\ngroup_by = ["method"]\nwindow = "5m"',
        )
    for index, method in enumerate(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE"]):
        add(
            f"ratio_{method}",
            "ratio",
            f'where = "status >= 500"\ntotal = "method = \'{method}\'"\n'
            f'window = "5m"\nratio = 0.{index + 2}\nmin_total = 100',
        )
    for index, status in enumerate([404, 403, 401, 429, 500, 502, 503, 504]):
        add(
            f"spike_{status}",
            "spike",
            f'where = "status = {status}"\ngroup_by = ["method"]\n'
            f'window = "10m"\nfactor = {3 + index}\nmin_count = 50',
        )
    for index, path in enumerate(
        ["/healthz", "/login", "/logout", "/", "/index.html", "/static/css/site.css"]
    ):
        add(f"absent_{index}", "absence", f'where = "path = \'{path}\'"\nwindow = "10m"')
    for name in ["user_agent", "referer", "method", "protocol", "status"]:
        add(
            f"new_{name}",
            "new_value",
            f'field = "{name}"\nwhere = "status < 600"\nlearn = "1h"\nwindow = "10m"',
        )
    for index, pattern in enumerate(
        ["\\\\d{4}", "^/api/.*orders", "photo_[0-9]+", "app\\\\.[0-9]+\\\\.js", "q=term1"]
    ):
        add(
            f"regex_{index}",
            "threshold",
            f'where = "regexp_matches(path, \'{pattern}\')"\nwindow = "1m"\nthreshold = {5000 + index}',
        )
    assert len(rules) == 50, len(rules)
    return "\n".join(rules)


PROBE_RULE = """
[[rule]]
name = "probe"
kind = "match"
where = "message = 'probe'"
group_by = ["n"]
window = "1s"
"""


def ingest(log: Path, db: Path, rules: Path | None, bundled: bool = False) -> tuple[float, float, float]:
    """(wall seconds, lines/s the run reported, CPU seconds) for one ingest into a fresh database.

    CPU seconds (user + system, all threads) are the steadier figure on a shared machine."""
    db.unlink(missing_ok=True)
    args = [sys.executable, "-m", "logscope", "ingest", str(log), "--db", str(db)]
    if not bundled:
        args.append("--no-default-rules")
    if rules is not None:
        args += ["--rules", str(rules)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"ingest failed ({done.returncode}): {done.stderr.strip()}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    reported = done.stderr.split(" lines/s)")[0].rsplit("(", 1)[1].replace(",", "")
    return wall, float(reported), cpu


def backtest_cpu(lines: int, runs: int, workdir: Path) -> None:
    """CPU seconds (user + system) of `rules backtest` of the nginx file through the 50 rules."""
    log = data.write_dataset("nginx", lines, workdir)
    rules = workdir / "fifty.toml"
    rules.write_text(fifty_rules())
    args = [sys.executable, "-m", "logscope", "rules", "backtest", str(rules), str(log), "--nl"]
    figures = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=REPO)
        if done.returncode != 0:
            raise SystemExit(f"backtest failed ({done.returncode}): {done.stderr.strip()}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        figures.append((cpu, time.perf_counter() - started, len(done.stdout.splitlines())))
    cpu, wall, notifications = min(figures)
    print(
        f"rules backtest of {lines:,} nginx lines, 50 rules, best of {runs}: {cpu:.2f} s CPU"
        f" (median {statistics.median(f[0] for f in figures):.2f}), {wall:.2f} s wall,"
        f" {notifications} notifications"
    )


def engine_cpu(lines: int, runs: int, workdir: Path) -> None:
    """CPU seconds of the engine alone over the stored file, best and median of `runs` processes."""
    log = data.write_dataset("nginx", lines, workdir)
    db = workdir / "plain.duckdb"
    ingest(log, db, None)
    rules = workdir / "fifty.toml"
    rules.write_text(fifty_rules())
    figures = []
    for _ in range(runs):
        args = [sys.executable, __file__, "--engine-run", str(db), str(rules)]
        done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=REPO)
        if done.returncode != 0:
            raise SystemExit(f"engine run failed: {done.stderr.strip()}")
        cpu, changes = done.stdout.split()
        figures.append((float(cpu), int(changes)))
    print(
        f"the engine alone, {lines:,} stored nginx records, 50 rules, best of {runs}: {min(figures)[0]:.2f} s"
        f" CPU (median {statistics.median(f[0] for f in figures):.2f}), {figures[0][1]} changes"
    )


def engine_run(db: Path, rules: Path) -> None:
    """(In a process of its own.) Print the CPU seconds of the engine over the stored records."""
    from datetime import UTC

    import duckdb

    from logscope.alerting.engine import RuleEngine, format_field_types
    from logscope.alerting.loader import load_paths
    from logscope.parsing.registry import builtin_registry
    from logscope.store.bulk import stored_records_in_time_order

    con = duckdb.connect(str(db), read_only=True)
    batches = list(stored_records_in_time_order(con, 0, 10**9))
    for batch in batches:
        assert batch.table is not None  # (read before the clock starts)
    engine = RuleEngine(
        load_paths([str(rules)]), format_types=format_field_types(builtin_registry(UTC).ordered)
    )
    changes: list = []
    engine.subscribe(changes.extend)
    start = time.process_time()
    for batch in batches:
        engine.on_records(batch)
    cpu = time.process_time() - start
    engine.close()
    print(f"{cpu:.3f} {len(changes)}")


def throughput(lines: int, runs: int, workdir: Path) -> None:
    log = data.write_dataset("nginx", lines, workdir)
    rules = workdir / "fifty.toml"
    rules.write_text(fifty_rules())
    check = subprocess.run(
        [sys.executable, "-m", "logscope", "rules", "check", str(rules)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert check.returncode == 0, check.stderr
    results: dict[str, list[tuple[float, float, float]]] = {
        "no rules": [],
        "50 rules": [],
        "bundled packs": [],
    }
    for _ in range(runs):
        results["no rules"].append(ingest(log, workdir / "a.duckdb", None))
        results["50 rules"].append(ingest(log, workdir / "b.duckdb", rules))
        results["bundled packs"].append(ingest(log, workdir / "c.duckdb", None, bundled=True))
    print(f"ingest of {lines:,} nginx lines, best of {runs} (median in brackets):")
    best = {}
    for name, values in results.items():
        wall = min(value[0] for value in values)
        rate = max(value[1] for value in values)
        cpu = min(value[2] for value in values)
        best[name] = (wall, rate, cpu)
        middle = [statistics.median(value[i] for value in values) for i in range(3)]
        print(
            f"  {name:>13}: {wall:6.2f} s wall ({middle[0]:.2f}), {lines / wall:9,.0f} lines/s wall,"
            f" {rate:9,.0f} lines/s in the pipeline, {cpu:6.2f} s CPU ({middle[2]:.2f})"
        )
    wall, rate, cpu = _cost(best, "50 rules")
    print(
        f"  50 rules cost: {wall:+.1%} wall time, {rate:+.1%} pipeline time,"
        f" {cpu:+.1%} CPU time (goal: <= +20%)"
    )
    wall, rate, cpu = _cost(best, "bundled packs")
    print(
        f"  the 12 bundled rules (ingest's default): {wall:+.1%} wall, {rate:+.1%} pipeline, {cpu:+.1%} CPU"
    )


def _cost(best: dict[str, tuple[float, float, float]], name: str) -> tuple[float, float, float]:
    """How much more wall time, pipeline time (from its rate) and CPU time `name` took than no rules."""
    (wall, rate, cpu), (base_wall, base_rate, base_cpu) = best[name], best["no rules"]
    return wall / base_wall - 1, base_rate / rate - 1, cpu / base_cpu - 1


def latency(probes: int, workdir: Path) -> None:
    log = workdir / "follow.jsonl"
    log.write_text("")
    rules = workdir / "latency.toml"
    rules.write_text(fifty_rules() + PROBE_RULE)
    db = workdir / "follow.duckdb"
    db.unlink(missing_ok=True)
    args = [
        sys.executable,
        "-m",
        "logscope",
        "ingest",
        "--follow",
        str(log),
        "--db",
        str(db),
        "--no-default-rules",
        "--rules",
        str(rules),
        "--alerts-out",
        "-",
        "-q",
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    received: dict[str, float] = {}

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            alert = json.loads(line)
            if alert["rule"] == "probe" and alert["event"] == "firing":
                received[alert["group"]["n"]] = time.perf_counter()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(2.0)  # startup
    sent: dict[str, float] = {}
    background = data.json_lines(probes * 10)
    with open(log, "a", buffering=1) as out:
        for n in range(probes):
            for _ in range(10):
                out.write(next(background) + "\n")
            out.flush()
            sent[str(n)] = time.perf_counter()
            out.write(json.dumps({"ts": time.time(), "level": "info", "msg": "probe", "n": n}) + "\n")
            out.flush()
            time.sleep(0.02)
    deadline = time.monotonic() + 10
    while len(received) < probes and time.monotonic() < deadline:
        time.sleep(0.05)
    process.terminate()
    process.wait(10)
    delays = sorted((received[n] - sent[n]) * 1000 for n in sent if n in received)
    missing = probes - len(delays)
    if not delays:
        print("follow-mode latency: no probe alert arrived", process.stderr.read().decode()[-2000:])
        return
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(
        f"line-to-alert latency in follow mode (50 rules + probe, {len(delays)} probes at 50/s"
        f" among 500 lines/s, {missing} missing):"
    )
    print(
        f"  p50 {statistics.median(delays):.0f} ms, p90 {delays[int(len(delays) * 0.9)]:.0f} ms,"
        f" p99 {p99:.0f} ms, max {delays[-1]:.0f} ms (goal: p99 < 500 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--backtest", action="store_true", help="only the CPU of a backtest")
    parser.add_argument("--engine", action="store_true", help="only the CPU of the engine alone")
    parser.add_argument("--engine-run", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_run:
        engine_run(*args.engine_run)
        return
    with tempfile.TemporaryDirectory(prefix="logscope-rules-bench-") as directory:
        workdir = Path(directory)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
        if args.backtest:
            backtest_cpu(args.lines, args.runs, workdir)
            return
        if args.engine:
            engine_cpu(args.lines, args.runs, workdir)
            return
        if not args.skip_throughput:
            throughput(args.lines, args.runs, workdir)
        if not args.skip_latency:
            latency(args.probes, workdir)


if __name__ == "__main__":
    main()
