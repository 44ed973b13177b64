"""new_value rules know the values stored before the run (alerting/history.py): through the real
CLI, real log files and the real DuckDB file; the history read in the rules' sandbox."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import cli_env, query_db, run_cli

from logscope.alerting.history import StoredValues
from logscope.alerting.model import SECOND, Rule

START = datetime(2026, 1, 1, tzinfo=UTC)
RULES = """
[[rule]]
name = "new_user"
kind = "new_value"
where = "level = 'info'"
field = ["user"]
window = "1m"

[[rule]]
name = "new_user_lately"
kind = "new_value"
where = "level = 'info'"
field = ["user"]
window = "1m"
history = "1h"

[[rule]]
name = "new_user_learning"
kind = "new_value"
where = "level = 'info'"
extract = { who = "upper(user)" }
field = ["who"]
window = "1m"
learn = "30m"
"""


def append(log: Path, *entries: tuple[int, str]) -> None:
    """JSON lines: (minutes after START, user) each."""
    with open(log, "a") as handle:
        for minutes, user in entries:
            at = START + timedelta(minutes=minutes)
            line = {"time": f"{at:%Y-%m-%dT%H:%M:%SZ}", "level": "info", "user": user, "msg": "login"}
            handle.write(json.dumps(line) + "\n")


def fired(out: Path) -> list[tuple[str, str]]:
    """(rule, group value) of each firing notification in an alerts-out file."""
    if not out.exists():
        return []
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return [(row["rule"], *row["group"].values()) for row in rows if row["event"] == "firing"]


def ingest(tmp_path: Path, log: Path, db: Path, out: Path) -> list[tuple[str, str]]:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    result = run_cli(
        "ingest", str(log), "--db", str(db), "--rules", str(rules), "--no-default-rules",
        "--alerts-out", str(out), "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr, result.stderr
    return fired(out)


@pytest.mark.slow
def test_a_second_import_alerts_only_on_values_never_stored(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    # dave logs in at 00:00 only; the others until 03:00; 3 hours of history in all.
    append(log, (0, "dave"), *[(minutes, "alice") for minutes in range(1, 181, 10)], (180, "bob"))
    first = ingest(tmp_path, log, db, tmp_path / "first.jsonl")
    # The first run learns WHO for 30 minutes: only bob (03:00) is new to it.
    everyone = [(rule, user) for rule in ("new_user", "new_user_lately") for user in ("alice", "bob", "dave")]
    assert sorted(first) == sorted([*everyone, ("new_user_learning", "BOB")])
    # The file grows: alice and bob again (stored before), carol (never seen), dave (stored
    # 3 hours before the latest stored record: outside new_user_lately's 1h of history).
    append(log, (190, "alice"), (191, "bob"), (192, "carol"), (193, "dave"))
    second = ingest(tmp_path, log, db, tmp_path / "second.jsonl")
    # new_user_learning alerts at once: it has learned since the stored history began.
    assert sorted(second) == [
        ("new_user", "carol"),
        ("new_user_lately", "carol"),
        ("new_user_lately", "dave"),
        ("new_user_learning", "CAROL"),
    ]
    stored = query_db(
        db,
        "SELECT rule, coalesce(labels->>'user', labels->>'who') FROM alerts WHERE first_at > ? ORDER BY ALL",
        [START + timedelta(minutes=185)],
    )
    assert stored == sorted(second)


def test_without_stored_history_learning_starts_with_the_run(tmp_path: Path, db: Path) -> None:
    """The same lines in a fresh database: the learning rule learns them all silently."""
    log = tmp_path / "app.log"
    append(log, (190, "alice"), (191, "bob"), (192, "carol"), (193, "dave"))
    got = ingest(tmp_path, log, db, tmp_path / "out.jsonl")
    assert [rule for rule, _ in got if rule == "new_user_learning"] == []
    assert sorted(user for rule, user in got if rule == "new_user") == ["alice", "bob", "carol", "dave"]


@pytest.mark.slow
def test_following_knows_the_values_stored_before(tmp_path: Path, db: Path) -> None:
    """`ingest --follow` on a database that holds records: only the value never stored alerts."""
    log, rules, out = tmp_path / "app.log", tmp_path / "rules.toml", tmp_path / "out.jsonl"
    append(log, (0, "alice"), (1, "bob"))
    ingest(tmp_path, log, db, tmp_path / "first.jsonl")
    append(log, (10, "alice"), (11, "bob"), (12, "carol"))  # caught up from the checkpoint
    rules.write_text(RULES)
    process = subprocess.Popen(
        [sys.executable, "-m", "logscope", "ingest", "--follow", str(log), "--db", str(db),
         "--rules", str(rules), "--no-default-rules", "--alerts-out", str(out), "-q"],
        env=cli_env(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # 60 s for each (it only bounds a failure): the first includes the process' start, which
        # takes seconds on a loaded machine; the two once shared 20 s.
        deadline = time.monotonic() + 60
        while ("new_user", "carol") not in fired(out) and time.monotonic() < deadline:
            time.sleep(0.1)
        append(log, (13, "alice"), (14, "erin"))  # and while it follows
        deadline = time.monotonic() + 60
        while ("new_user", "erin") not in fired(out) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "error" not in stderr, stderr
    users = [user for rule, user in fired(out) if rule == "new_user"]
    assert users == ["carol", "erin"]


def _rule(name: str, where: str) -> Rule:
    return Rule(name, "new_value", file="test.toml", where=where, field=["user"], history=30 * 86400 * SECOND)


@pytest.mark.slow
def test_the_history_is_read_where_rule_sql_cannot_reach_files(tmp_path: Path, db: Path) -> None:
    """The rules' SQL runs over the stored records in the sandbox: a rule that reads a file
    (which `rules check` refuses anyway) gets no history and an error; the others get theirs."""
    log = tmp_path / "app.log"
    append(log, (0, "alice"), (1, "bob"))
    ingest(tmp_path, log, db, tmp_path / "out.jsonl")
    secret = tmp_path / "secret.txt"
    secret.write_text("alice\n")
    sneaky = _rule("sneaky", f"user IN (SELECT * FROM read_csv('{secret}'))")
    plain = _rule("plain", "level = 'info'")
    con = duckdb.connect(str(db))
    try:
        seeds, errors = StoredValues(con, 3, [sneaky, plain]).seeds()
        assert seeds["plain"].keys == ["alice", "bob"]
        assert seeds["plain"].since == int(START.timestamp()) * SECOND
        assert "sneaky" not in seeds
        assert len(errors) == 1 and "rule 'sneaky'" in errors[0]
        assert "file system operations are disabled" in errors[0]
        # Several fields: the key as the engine's arrivals write it (arrivals.key_text).
        pair = _rule("pair", "true")
        pair.field = ["user", "level"]
        assert StoredValues(con, 3, [pair]).seeds()[0]["pair"].keys == ["alice\x1finfo", "bob\x1finfo"]
        # Records from the run's first id on are not history.
        assert StoredValues(con, 2, [plain]).seeds()[0]["plain"].keys == ["alice"]
        # Read ahead in a thread of its own, the same values.
        ahead = StoredValues(con, 3, [plain])
        ahead.prefetch()
        assert ahead.seeds()[0]["plain"].keys == ["alice", "bob"]
    finally:
        con.close()


def test_max_values_bounds_the_history_to_the_first_values_seen(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    append(log, (5, "erin"), (1, "bob"), (0, "alice"), (3, "carol"))
    ingest(tmp_path, log, db, tmp_path / "out.jsonl")
    rule = _rule("few", "true")
    rule.max_values = 2
    con = duckdb.connect(str(db))
    try:
        assert StoredValues(con, 5, [rule]).seeds()[0]["few"].keys == ["alice", "bob"]
    finally:
        con.close()
