"""What reading new_value rules' stored history costs when `ingest` or `tail` starts on a full
database (alerting/history.py): the time of the one history query, which delays the first alerts.

A database gets `--lines` nginx access lines and as many JSON application lines (bench/data.py,
about a day of event time each, so all of it within the default `history` of 30 days) through
`logscope ingest --no-default-rules`. Then, alternating, `--runs` times each:

- `bundled`: the bundled packs' new_value rule (app_new_exception: error lines, a regex over
  the message), as every `ingest` and `tail` with the default rules runs it;
- `client`: a new_value rule over every nginx record's client address (typed field, ~all distinct:
  the `max_values` cap of 100,000 is reached);
- `both`: the two together (one query).

    python bench/new_value_history.py [--lines 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # bench/data.py
import duckdb

from logscope.alerting.engine import format_field_types
from logscope.alerting.history import StoredValues
from logscope.alerting.loader import builtin_rules_dir, load_paths
from logscope.parsing.registry import builtin_registry

CLIENT_RULES = """
[[rule]]
name = "new_client"
kind = "new_value"
where = "format = 'nginx_access'"
field = ["client"]
"""


def build(directory: Path, lines: int) -> Path:
    db = directory / "history.duckdb"
    files = [data.write_dataset(kind, lines, Path("/tmp/logscope-bench")) for kind in ("nginx", "json")]
    command = [sys.executable, "-m", "logscope", "ingest", *map(str, files), "--db", str(db)]
    subprocess.run([*command, "--no-default-rules", "-q"], check=True, env={**os.environ, "TZ": "UTC"})
    return db


def timed(db: Path, rules: list) -> tuple[float, dict[str, int]]:
    import datetime as dt

    types = format_field_types(builtin_registry(dt.UTC).ordered)
    con = duckdb.connect(str(db))
    try:
        below = con.execute("SELECT max(id) + 1 FROM logs").fetchall()[0][0]
        started = time.perf_counter()
        seeds, errors = StoredValues(con, below, rules, types).seeds()
        elapsed = time.perf_counter() - started
    finally:
        con.close()
    assert not errors, errors
    return elapsed, {name: len(seed.keys) for name, seed in seeds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rules_file = Path(scratch) / "client.toml"
        rules_file.write_text(CLIENT_RULES)
        bundled = [rule for rule in load_paths([str(builtin_rules_dir())]).rules if rule.kind == "new_value"]
        client = load_paths([str(rules_file)]).rules
        configurations = {"bundled": bundled, "client": client, "both": bundled + client}
        started = time.perf_counter()
        db = build(Path(scratch), args.lines)
        print(f"database: {2 * args.lines:,} records in {time.perf_counter() - started:.1f} s")
        print(f"load: {os.getloadavg()[0]:.2f} (1-minute average, {os.cpu_count()} cores)")
        times: dict[str, list[float]] = {name: [] for name in configurations}
        values: dict[str, dict[str, int]] = {}
        for _ in range(args.runs):
            for name, rules in configurations.items():
                elapsed, values[name] = timed(db, rules)
                times[name].append(elapsed)
        for name, measured in times.items():
            print(
                f"{name:8} best {min(measured):.2f} s, median {statistics.median(measured):.2f} s"
                f" ({', '.join(f'{rule}: {count:,} values' for rule, count in values[name].items())})"
            )
        print(f"load: {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
