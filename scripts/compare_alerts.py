"""The alerts of `ingest`, `tail` (catching up, in tmux) and `rules backtest` as sorted JSON lines,
for the code of one tree: compare two trees' outputs to show a change kept every alert.

    git archive BASE | tar -x -C /tmp/before; git archive HEAD | tar -x -C /tmp/after
    .venv/bin/python scripts/compare_alerts.py /tmp/before /tmp/out/before [hour] [notail]
    .venv/bin/python scripts/compare_alerts.py /tmp/after /tmp/out/after [hour] [notail]
    diff -r /tmp/out/before /tmp/out/after   # *.alerts (tables), *.notes (notifications)

Datasets: sample_logs/ and the bench/data.py files (20,000 lines each), or with `hour`
tests/test_alert_identity.py's generated hour of mixed logs with incidents.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT, OUT = Path(sys.argv[1]), Path(sys.argv[2])
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
from bench import data  # noqa

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
ALERTS = """SELECT rule, severity, state, group_key, first_at::VARCHAR, fired_at::VARCHAR, last_at::VARCHAR,
 resolved_at::VARCHAR, count, value, summary, notifications, example_ids FROM alerts"""


def cli(*args, cwd):
    r = subprocess.run(
        [sys.executable, "-m", "logscope", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, (args, r.stderr[-2000:])
    return r


def table(db):
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone='UTC'")
    rows = con.execute(ALERTS).fetchall()
    con.close()
    return sorted(json.dumps(row, default=str) for row in rows)


def count(db):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "logscope",
            "query",
            "--db",
            str(db),
            "SELECT count(*) AS n FROM logs",
            "--output",
            "jsonl",
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=20,
    )
    try:
        return json.loads(r.stdout.splitlines()[0])["n"]
    except Exception:
        return -1


def tail(work, db, out):
    status = work / f"{db.stem}.status"
    logscope = f"TZ=UTC PYTHONPATH={ROOT} {sys.executable} -m logscope"
    cmd = f"cd {work} && {logscope} tail logs --db {db} --alerts-out {out}; echo $? > {status}; sleep 30"
    present = sum(len(p.read_text().splitlines()) for p in (work / "logs").iterdir())
    sock = f"compare-alerts-{os.getpid()}"
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-x", "180", "-y", "45", cmd], check=True)
    try:
        deadline = time.monotonic() + 300
        while count(db) < present:
            assert time.monotonic() < deadline, "tail did not store everything"
            time.sleep(0.5)
        time.sleep(2)
        subprocess.run(["tmux", "-L", sock, "send-keys", "q"])
        deadline = time.monotonic() + 60
        while not (status.exists() and status.read_text().strip()):
            assert time.monotonic() < deadline, "tail did not quit"
            time.sleep(0.2)
        assert status.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def one(name, files):
    work = OUT / name
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    for f in files:
        shutil.copy(f, work / "logs" / Path(f).name)
    cli(
        "ingest",
        "-q",
        "logs",
        "--db",
        str(work / "ingest.duckdb"),
        "--alerts-out",
        str(work / "ingest.notes"),
        cwd=work,
    )
    (work / "ingest.alerts").write_text("\n".join(table(work / "ingest.duckdb")) + "\n")
    r = cli("rules", "backtest", "--alerts", str(REPO / "rules"), "logs", "--output", "jsonl", cwd=work)
    (work / "backtest.alerts").write_text("\n".join(sorted(r.stdout.splitlines())) + "\n")
    r = cli("rules", "backtest", str(REPO / "rules"), "logs", "--output", "jsonl", cwd=work)
    (work / "backtest.notes").write_text(r.stdout)
    if "notail" not in sys.argv:
        tail(work, work / "tail.duckdb", work / "tail.notes")
        (work / "tail.alerts").write_text("\n".join(table(work / "tail.duckdb")) + "\n")
    for p in work.glob("*.duckdb*"):
        p.unlink()


if "hour" in sys.argv:
    sys.path.insert(0, str(REPO / "tests"))
    import datetime as dt

    import test_alert_identity as identity

    hourdir = OUT / "hourfiles"
    identity.write_logs(hourdir, identity.generated_hour(), identity.START + dt.timedelta(hours=1))
    one("hour", sorted(hourdir.iterdir()))
else:
    one("sample", sorted((REPO / "sample_logs").iterdir()))
    files = [data.write_dataset(kind, 20000, OUT / "benchfiles") for kind in data.GENERATORS]
    one("bench", files)
print("done", OUT)
