"""`logscope query SQL FILE` (no import) against lnav and DuckDB alone, in the same run.

    .venv/bin/python bench/inplace.py --lines 1000000 [--big 10]

1. nginx: `logscope query 'SELECT count(*) FROM nginx_access WHERE status >= 500' FILE` against
   `lnav -n -c ';SELECT count(*) FROM access_log WHERE sc_status >= 500' FILE`, alternated, with
   the floor: DuckDB's read_csv + regexp_extract of the status alone.
2. JSON lines: `logscope query` counting error records against DuckDB `read_json` alone.
3. syslog: `logscope query` counting records of one program against lnav's `syslog_log`.
4. With --big N: the nginx file repeated N times (10 M lines), the nginx query.
Wall seconds, CPU seconds (user + system) and peak RSS of each whole process; the load average
beside each figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lnav

REPO = Path(__file__).resolve().parent.parent
LOGSCOPE = [str(REPO / ".venv" / "bin" / "python"), "-m", "logscope"]
NGINX_SQL = "SELECT count(*) AS n FROM nginx_access WHERE status >= 500"
JSON_SQL = "SELECT count(*) AS n FROM logs WHERE level = 'error'"
SYSLOG_SQL = "SELECT count(*) AS n FROM logs WHERE message LIKE '%Failed password%'"
LNAV_SYSLOG_SQL = "SELECT count(*) FROM syslog_log WHERE log_body LIKE '%Failed password%'"
NGINX_FLOOR = (
    "SELECT count(*) FROM read_csv('{path}', columns={{'line':'VARCHAR'}}, header=false, auto_detect=false,"
    " delim='\x1f\x1e', quote='', escape='') WHERE TRY_CAST(regexp_extract(line, '\" ([0-9]{{3}}) ', 1)"
    " AS INTEGER) >= 500"
)
JSON_FLOOR = "SELECT count(*) FROM read_json('{path}', format='newline_delimited') WHERE level = 'error'"


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def logscope_query(sql: str, path: Path) -> tuple[lnav.Run, int]:
    run = lnav.timed([*LOGSCOPE, "query", "--csv", sql, str(path)])
    return run, int(run.stdout.split()[-1])


def duckdb_alone(sql: str) -> tuple[lnav.Run, int]:
    code = f"import duckdb; print(duckdb.sql({sql!r}).fetchall()[0][0])"
    run = lnav.timed([LOGSCOPE[0], "-c", code])
    return run, int(run.stdout.split()[-1])


def report(label: str, run: lnav.Run, answer: int | None, lines: int) -> None:
    print(
        f"{label:<44} {run.seconds:7.2f} s {run.cpu_s:6.2f} CPU-s {run.peak_mb:6.0f} MB  answer {answer}"
        f"  {lines / run.seconds:>12,.0f} lines/s  ({load()})",
        flush=True,
    )


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=1_000_000)
    options.add_argument("--big", type=int, default=0, help="also the nginx file repeated N times")
    options.add_argument("--rounds", type=int, default=2)
    options.add_argument("--data", type=Path, help="use the bench/data.py files already in DIR")
    options.add_argument("--only", choices=("nginx", "json", "syslog", "big"), action="append")
    args = options.parse_args()
    only = set(args.only or ("nginx", "json", "syslog", "big"))
    lnav_path = lnav.ensure_lnav()
    print(lnav.lnav_version(lnav_path))
    out = Path(tempfile.mkdtemp(prefix="logscope-inplace-"))
    files = _found(args.data) if args.data else _generate(out, args.lines)
    lines = args.lines
    for _ in range(args.rounds):
        if "nginx" in only:
            run, answer = logscope_query(NGINX_SQL, files["nginx"])
            report("nginx: logscope query SQL FILE", run, answer, lines)
            run, answer = lnav.lnav_query(lnav_path, files["nginx"])
            report("nginx: lnav -n -c ';SELECT ...'", run, answer, lines)
            run, answer = duckdb_alone(NGINX_FLOOR.format(path=files["nginx"]))
            report("nginx: DuckDB read_csv + regexp_extract alone", run, answer, lines)
        if "json" in only:
            run, answer = logscope_query(JSON_SQL, files["json"])
            report("json: logscope query SQL FILE", run, answer, lines)
            run, answer = duckdb_alone(JSON_FLOOR.format(path=files["json"]))
            report("json: DuckDB read_json alone (floor)", run, answer, lines)
        if "syslog" in only:
            run, answer = logscope_query(SYSLOG_SQL, files["syslog"])
            report("syslog: logscope query SQL FILE", run, answer, lines)
            run, answer = lnav.lnav_query(lnav_path, files["syslog"], LNAV_SYSLOG_SQL)
            report("syslog: lnav -n -c ';SELECT ...'", run, answer, lines)
    if args.big and "big" in only:
        big = out / "big.access.log"
        with open(big, "wb") as target:
            for _ in range(args.big):
                target.write(files["nginx"].read_bytes())
        run, answer = logscope_query(NGINX_SQL, big)
        report(f"nginx x{args.big}: logscope query SQL FILE", run, answer, lines * args.big)
        big.unlink()
    if args.data:
        out.rmdir()  # only the big file was written there


def _generate(out: Path, lines: int) -> dict[str, Path]:
    import subprocess

    subprocess.run(
        [LOGSCOPE[0], str(REPO / "bench" / "data.py"), "--lines", str(lines), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return _found(out)


def _found(out: Path) -> dict[str, Path]:
    """The data files in `out` by kind (nginx, json, syslog); `--only` needs just its own."""
    found = {path.name.split("-")[0]: path for path in out.iterdir()}
    return {kind: found[kind] for kind in ("nginx", "json", "syslog") if kind in found}


if __name__ == "__main__":
    main()
