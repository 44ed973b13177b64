"""The same records give the same alerts in `ingest`, `tail` and `rules backtest` (issue 15).

Each command runs for real (tail in a real terminal, tmux): the alerts table `ingest` stores,
the one `tail` stores (catching up on the files, then following what is appended), and the one
`rules backtest --alerts` prints must be equal row for row (times, counts, summaries, example
ids), and so must the notifications of `--alerts-out` and of the backtest.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, query_db, run_cli
from terminal import tmux_socket_name
from test_tail_support import live_query

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")

ALERTS_SQL = """
SELECT id, rule, severity, state, group_key, epoch_us(first_at), epoch_us(fired_at),
       epoch_us(last_at), epoch_us(resolved_at), count, value, summary,
       notifications, example_ids
FROM alerts ORDER BY id
"""
NOTIFIED = ("at", "event", "rule", "count", "summary")

# --- an hour of mixed logs, with incidents -------------------------------------------------

START = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
PATHS = ["/", "/api/cart", "/api/products", "/api/search?q=shoes", "/api/checkout", "/static/app.js"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "curl/8.5.0"]


def nginx_line(at: dt.datetime, rng: random.Random, status: int) -> str:
    client = f"198.51.100.{rng.randint(1, 40)}"
    request = f"{rng.choice(['GET', 'GET', 'POST'])} {rng.choice(PATHS)} HTTP/1.1"
    return (
        f'{client} - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "{request}" {status} {rng.randint(0, 20000)}'
        f' "-" "{rng.choice(AGENTS)}"'
    )


def app_line(at: dt.datetime, level: str, msg: str, **extra: object) -> str:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return json.dumps({"ts": stamp, "level": level, "service": "checkout", "msg": msg, **extra})


def syslog_line(at: dt.datetime, program: str, message: str) -> str:
    return f"{at:%b} {at.day:2d} {at:%H:%M:%S} web-1 {program}: {message}"


def generated_hour() -> dict[str, list[tuple[dt.datetime, str]]]:
    """(time, line) per file, deterministic. nginx logs on even seconds, syslog on odd ones, the
    app at .5 s: no two files share an instant (so the order of appending them decides nothing).
    Incidents: a 5xx burst at 9:20, app errors at 9:25, an OOM kill at 9:30, a segfault at 9:35,
    heartbeats stop at 9:40, a 4xx scan at 9:45, a full disk at 9:50, and in the last two
    minutes (appended while `tail` follows) an SSH brute force and an exception type never seen."""
    rng = random.Random(15)
    nginx, app, syslog = [], [], []
    for second in range(0, 3600, 2):
        at = START + dt.timedelta(seconds=second)
        minute = second // 60
        if 20 * 60 <= second < 20 * 60 + 50:
            status = rng.choice([502, 503, 503, 504])
        elif 45 * 60 <= second < 47 * 60:
            status = 404
        else:
            status = rng.choice([200] * 12 + [304, 301, 404, 500])
        nginx.append((at, nginx_line(at, rng, status)))
        if 45 <= minute < 47:  # the scan comes on top of the usual traffic
            nginx.append((at, nginx_line(at, rng, 200)))
    for second in range(0, 3600, 4):
        at = START + dt.timedelta(seconds=second, milliseconds=500)
        minute = second // 60
        if second % 60 == 0 and minute < 40:
            app.append((at, app_line(at, "info", "heartbeat")))
        elif 25 * 60 <= second < 27 * 60:
            app.append((at, app_line(at, "error", "payment failed", exception="TimeoutError")))
        elif second == 15 * 60 + 8:
            app.append((at, app_line(at, "error", "cart lost", exception="KeyError")))
        elif second == 58 * 60 + 40:
            app.append((at, app_line(at, "error", "bad total", exception="ZeroDivisionError")))
        elif second % 400 == 12:
            app.append((at, app_line(at, "error", "upstream slow", exception="TimeoutError")))
        else:
            app.append((at, app_line(at, "info", "order placed", order_id=rng.randint(1, 99999))))
    events = {
        30 * 60 + 1: ("kernel", "Out of memory: Killed process 4242 (java) total-vm:8123456kB"),
        35 * 60 + 3: ("kernel", "worker[5150]: segfault at 0 ip 00007f sp 00007ffd error 4 in libc.so.6"),
        50 * 60 + 5: ("postgres[812]", "could not write to file: No space left on device"),
    }
    for second in range(1, 3600, 2):
        at = START + dt.timedelta(seconds=second)
        if second in events:
            syslog.append((at, syslog_line(at, *events[second])))
        elif 58 * 60 + 1 <= second <= 58 * 60 + 27:
            port = 40000 + second
            message = f"Failed password for root from 203.0.113.9 port {port} ssh2"
            syslog.append((at, syslog_line(at, f"sshd[{second}]", message)))
        elif second % 120 == 1:
            syslog.append((at, syslog_line(at, "systemd[1]", f"Started session-{second}.scope.")))
    return {"app.jsonl": app, "nginx_access.log": nginx, "syslog": syslog}


def write_logs(directory: Path, logs: dict[str, list[tuple[dt.datetime, str]]], until: dt.datetime) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in logs.items():
        text = "".join(line + "\n" for at, line in lines if at < until)
        (directory / name).write_text(text)


Logs = dict[str, list[tuple[dt.datetime, str]]]


def runs_from(logs: Logs, since: dt.datetime) -> list[tuple[str, list[str]]]:
    """The lines from `since` on in event-time order, as runs of consecutive lines of one file."""
    merged = sorted((at, name, line) for name, lines in logs.items() for at, line in lines if at >= since)
    runs: list[tuple[str, list[str]]] = []
    for _, name, line in merged:
        if runs and runs[-1][0] == name:
            runs[-1][1].append(line)
        else:
            runs.append((name, [line]))
    return runs


# --- the three commands --------------------------------------------------------------------


def ingest_alerts(logs: Path, db: Path, out: Path) -> tuple[list[tuple], list[tuple]]:
    result = run_cli("ingest", "-q", logs.name, "--db", str(db), "--alerts-out", str(out), cwd=logs.parent)
    assert result.returncode == 0, result.stderr
    return query_db(db, ALERTS_SQL), notified(out)


def backtest_alerts(logs: Path) -> tuple[list[tuple], list[tuple]]:
    rules = str(REPO / "rules")
    table = run_cli("rules", "backtest", "--alerts", rules, logs.name, "--output", "jsonl", cwd=logs.parent)
    assert table.returncode == 0, table.stderr
    rows = [json.loads(line) for line in table.stdout.splitlines()]
    listed = run_cli("rules", "backtest", rules, logs.name, "--output", "jsonl", cwd=logs.parent)
    assert listed.returncode == 0, listed.stderr
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    return [_as_table_row(row) for row in rows], [tuple(event[key] for key in NOTIFIED) for event in events]


def _as_table_row(row: dict) -> tuple:
    def stamp(text: str | None) -> int | None:  # the JSON output's RFC 3339 as µs
        if text is None:
            return None
        delta = dt.datetime.fromisoformat(text) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return delta // dt.timedelta(microseconds=1)

    return (
        row["id"],
        row["rule"],
        row["severity"],
        row["state"],
        row["group"],
        *(stamp(row[key]) for key in ("first_at", "fired_at", "last_at", "resolved_at")),
        row["count"],
        row["value"],
        row["summary"],
        row["notifications"],
        row["example_ids"],
    )


def notified(path: Path) -> list[tuple]:
    events = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [tuple(event[key] for key in NOTIFIED) for event in events]


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(
        [TMUX, "-L", socket, *args], capture_output=True, text=True, timeout=10, check=False
    ).stdout


def wait_until(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stored(db: Path) -> int:
    rows = live_query(db, "SELECT count(*) FROM logs")
    return rows[0][0] if rows else -1


def tail_alerts(
    logs: Path,
    db: Path,
    out: Path,
    socket: str,
    appended: list[tuple[str, list[str]]] = (),
    rules: Path | None = None,
) -> tuple[list[tuple], list[tuple]]:
    """Run `logscope tail` on the files in a real terminal (`logs` named as ingest names it);
    once it has caught up, append each run of lines and wait until it is stored; then quit.
    `rules`: that rule file instead of the bundled packs."""
    status = db.with_suffix(".status")
    only = f" --no-default-rules --rules {shlex.quote(str(rules))}" if rules is not None else ""
    command = (
        f"cd {shlex.quote(str(logs.parent))} && TZ=UTC {shlex.quote(sys.executable)} -m logscope tail"
        f" {shlex.quote(logs.name)} --db {shlex.quote(str(db))} --alerts-out {shlex.quote(str(out))}{only};"
        f" echo $? > {shlex.quote(str(status))}; sleep 30"
    )
    present = sum(len(path.read_text().splitlines()) for path in logs.iterdir())
    tmux(socket, "new-session", "-d", "-x", "180", "-y", "45", command)
    try:
        wait_until(lambda: stored(db) >= present, what=f"tail to store the {present} lines present")
        total = present
        for name, lines in appended:
            with (logs / name).open("a") as handle:
                handle.write("".join(line + "\n" for line in lines))
            total += len(lines)
            wait_until(lambda total=total: stored(db) >= total, timeout=90, what=f"{total} lines stored")
        time.sleep(1.0)  # the engine's queue: the last batch evaluated and its alerts written
        tmux(socket, "send-keys", "q")
        quit_ = lambda: status.exists() and status.read_text().strip() != ""  # noqa: E731
        wait_until(quit_, timeout=30, what="tail to quit")
        assert status.read_text().strip() == "0", tmux(socket, "capture-pane", "-p")
    finally:
        tmux(socket, "kill-server")
    return query_db(db, ALERTS_SQL), notified(out)


def examples_as_lines(table: list[tuple], db: Path) -> list[tuple]:
    """The table with each alert's example record ids replaced by those records' lines (ids are
    the order records were stored in: a file caught up on in part, then followed, is stored in
    another order than by a one-shot import)."""
    raw = dict(query_db(db, "SELECT id, raw FROM logs"))
    return [(*row[:-1], [raw[number] for number in row[-1]]) for row in table]


def assert_same(name: str, expected: tuple[list, list], got: tuple[list, list]) -> None:
    table, events = expected
    assert got[0] == table, f"{name}: alerts table differs"
    assert got[1] == events, f"{name}: notifications differ"


# --- the tests -----------------------------------------------------------------------------


@needs_tmux
@pytest.mark.slow
def test_sample_logs_give_the_same_alerts_in_ingest_tail_and_backtest(tmp_path: Path) -> None:
    logs = tmp_path / "sample_logs"
    shutil.copytree(REPO / "sample_logs", logs)
    ingested = ingest_alerts(logs, tmp_path / "ingest.duckdb", tmp_path / "ingest.jsonl")
    table, events = ingested
    # The sample incident: 20 HTTP 5xx within a minute at 14:06:30, not at the files' end.
    burst = [row for row in table if row[1] == "web_5xx_burst"]
    at = dt.datetime(2026, 11, 20, 14, 6, 30, tzinfo=dt.UTC).timestamp() * 1_000_000
    assert [(row[5], row[11].split(" in ")[0]) for row in burst] == [(at, "20 HTTP 5xx responses")]
    assert ("2026-11-20T14:06:30.000Z", "firing", "web_5xx_burst") in [event[:3] for event in events]
    assert "web_4xx_spike" not in {row[1] for row in table}
    assert_same("backtest", ingested, backtest_alerts(logs))
    socket = tmux_socket_name("logscope-identity")
    tailed = tail_alerts(logs, tmp_path / "tail.duckdb", tmp_path / "tail.jsonl", socket)
    assert_same("tail", ingested, tailed)


@needs_tmux
@pytest.mark.slow
def test_an_hour_of_mixed_logs_gives_the_same_alerts_caught_up_or_followed(tmp_path: Path) -> None:
    hour = generated_hour()
    whole = tmp_path / "whole" / "logs"  # the same source names for every command: logs/...
    write_logs(whole, hour, START + dt.timedelta(hours=1))
    ingested = ingest_alerts(whole, tmp_path / "ingest.duckdb", tmp_path / "ingest.jsonl")
    fired = {row[1] for row in ingested[0]}
    assert fired >= {
        "web_5xx_burst",
        "web_5xx_ratio",
        "web_4xx_spike",
        "app_error_spike",
        "app_new_exception",
        "app_missing_heartbeat",
        "oom_killer",
        "segfault",
        "disk_full",
        "ssh_brute_force",
    }, fired
    assert_same("backtest", ingested, backtest_alerts(whole))
    # tail catches up on the first 58 minutes, then follows the last two as they are appended.
    split = START + dt.timedelta(minutes=58)
    growing = tmp_path / "growing" / "logs"
    write_logs(growing, hour, split)
    socket = tmux_socket_name("logscope-identity")
    tail_db = tmp_path / "tail.duckdb"
    followed = tail_alerts(growing, tail_db, tmp_path / "tail.jsonl", socket, runs_from(hour, split))
    assert followed[0], "tail stored no alerts"
    assert_same(
        "tail",
        (examples_as_lines(ingested[0], tmp_path / "ingest.duckdb"), ingested[1]),
        (examples_as_lines(followed[0], tail_db), followed[1]),
    )
