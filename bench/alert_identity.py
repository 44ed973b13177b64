"""The same alerts before and after a change to the rule engine, byte for byte.

Records, for one source tree, every alert the rules give on the rules test suite
(`logscope rules test rules/tests/*.toml`), the Loghub corpus (../shared/corpus/loghub, every
*_2k.log) and the bench files (bench/data.py: nginx, json, logfmt, syslog), as sorted JSON lines:
`ingest --no-patterns` with the bundled packs plus rules of every counting kind, then the alerts
table. Compare two recordings with `compare`.

    python bench/alert_identity.py record --code /tmp/rk-before --out /tmp/before.jsonl [--lines 30000]
    python bench/alert_identity.py record --code . --out /tmp/after.jsonl
    python bench/alert_identity.py compare /tmp/before.jsonl /tmp/after.jsonl

`--code` is the tree whose logscope runs (put first on PYTHONPATH, with this interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # bench/data.py
from rules_overhead import fifty_rules

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent.parent / "shared" / "corpus" / "loghub"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/loghub")

GENERIC_RULES = """
[[rule]]
name = "id_errors"
kind = "threshold"
where = "level IN ('error', 'critical', 'fatal')"
group_by = ["source"]
window = "1m"
threshold = 5
renotify = "10m"

[[rule]]
name = "id_error_share"
kind = "ratio"
where = "level IN ('error', 'critical', 'fatal')"
window = "5m"
ratio = 0.05
min_total = 20
for = "1m"

[[rule]]
name = "id_error_spike"
kind = "spike"
where = "level IN ('error', 'warning')"
group_by = ["source"]
window = "10m"
factor = 2
min_count = 5

[[rule]]
name = "id_quiet"
kind = "absence"
where = "level = 'info'"
group_by = ["source"]
window = "2m"

[[rule]]
name = "id_new_host"
kind = "new_value"
field = "host"
learn = "10m"

[[rule]]
name = "id_new_level"
kind = "new_value"
field = "level"
window = "1m"

[[rule]]
name = "id_failures"
kind = "match"
where = "message ILIKE '%fail%'"
group_by = ["source"]
window = "1m"
"""


def run(code: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(code)}
    return subprocess.run(
        [sys.executable, "-m", "logscope", *args],
        capture_output=True,
        text=True,
        cwd=code,
        env=env,
        check=False,
    )


def alerts_of(code: Path, files: list[Path], rules: list[Path], work: Path) -> list[str]:
    """Every column of every alert after ingesting `files` with the bundled packs and `rules`."""
    db = work / "identity.duckdb"
    db.unlink(missing_ok=True)
    args = ["ingest", *map(str, files), "--db", str(db), "--no-patterns", "-q"]
    for path in rules:
        args += ["--rules", str(path)]
    done = run(code, args)
    if done.returncode != 0:
        raise SystemExit(f"ingest failed: {done.stderr.strip()}")
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute("FROM alerts ORDER BY id")
        names = [column[0] for column in cursor.description]
        rows = [
            json.dumps(dict(zip(names, row, strict=True)), default=str, sort_keys=True)
            for row in cursor.fetchall()
        ]
    finally:
        con.close()
    return rows


def record(code: Path, out: Path, lines: int) -> None:
    code = code.resolve()
    result: list[str] = []
    with tempfile.TemporaryDirectory(prefix="alert-identity-") as name:
        work = Path(name)
        generic = work / "generic.toml"
        generic.write_text(GENERIC_RULES)
        fifty = work / "fifty.toml"
        fifty.write_text(fifty_rules())
        tests = sorted(f"rules/tests/{path.name}" for path in (code / "rules" / "tests").glob("*.toml"))
        done = run(code, ["rules", "test", *tests])
        result += [json.dumps({"set": "rules test", "rc": done.returncode, "line": line}) for line in
                   done.stdout.splitlines()]  # fmt: skip
        corpus = sorted(CORPUS.glob("*/*_2k.log"))
        result += [f'{{"set": "corpus", "alert": {row}}}' for row in alerts_of(code, corpus, [generic], work)]
        for kind in ("nginx", "json", "logfmt", "syslog"):
            log = data.write_dataset(kind, lines, work)
            rules = [generic, fifty] if kind == "nginx" else [generic]
            result += [f'{{"set": "{kind}", "alert": {row}}}' for row in alerts_of(code, [log], rules, work)]
    result = [line.replace(str(work), "WORK") for line in result]  # (a new temporary folder each run)
    out.write_text("".join(line + "\n" for line in sorted(result)))
    sets: dict[str, int] = {}
    for line in result:
        key = json.loads(line)["set"]
        sets[key] = sets.get(key, 0) + 1
    print(f"{out}: {len(result)} lines {sets}")


def compare(before: Path, after: Path) -> int:
    old, new = before.read_bytes(), after.read_bytes()
    if old == new:
        print(f"identical: {len(old.splitlines())} lines, {len(old)} bytes")
        return 0
    old_lines, new_lines = set(old.decode().splitlines()), set(new.decode().splitlines())
    for line in sorted(old_lines - new_lines)[:10]:
        print("-", line[:300])
    for line in sorted(new_lines - old_lines)[:10]:
        print("+", line[:300])
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    rec = actions.add_parser("record")
    rec.add_argument("--code", type=Path, default=REPO)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--lines", type=int, default=30_000, help="lines per bench file (30,000)")
    cmp = actions.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.action == "record":
        record(args.code, args.out, args.lines)
    else:
        raise SystemExit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
