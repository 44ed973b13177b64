"""The `changed_after_marker` rule kind (and the rulekinds helper's `new_pattern`) on the
generated deploy log: both fire at the same event times in `rules backtest` and `ingest --rules`,
and `rules test` runs them (docs/rules.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import assert_clean_error, query_db, run_cli
from deploylog import deploy_log

RULES = """
[[rule]]
name = "errors_after_deploy"
kind = "changed_after_marker"
window = "10m"
factor = 1.5
min_count = 20
min_total = 100
interval = "30s"

[[rule]]
name = "new_error_kind"
kind = "new_pattern"
errors_only = true
learn = "10m"
"""
WINDOW = timedelta(minutes=10)
INTERVAL = timedelta(seconds=30)


def expected_firing(path: Path, deploy_at: datetime) -> datetime:
    """The first 30 s boundary where the error rate of the 10 minutes before the deploy against the
    time since it (at least 100 records each, 20 errors after) is 1.5 times as high, computed from
    the lines themselves."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    events = [
        (datetime.fromisoformat(r["time"].replace("Z", "+00:00")), r["level"] == "error") for r in lines
    ]
    before = [error for when, error in events if deploy_at - WINDOW <= when < deploy_at]
    boundary = deploy_at - (deploy_at - datetime(2026, 1, 1, tzinfo=UTC)) % INTERVAL
    while boundary < deploy_at + WINDOW:
        boundary += INTERVAL
        after = [error for when, error in events if deploy_at <= when <= boundary]
        enough = len(before) >= 100 and len(after) >= 100 and sum(after) >= 20
        if enough and sum(after) * len(before) >= 1.5 * sum(before) * len(after):
            return boundary
    raise AssertionError("the log should make the rule fire")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("markerrule")
    log = deploy_log(folder / "api.jsonl")
    rules = folder / "deploy.toml"
    rules.write_text(RULES)
    return folder, log, rules


def fired(rows: list[dict], rule: str) -> list[str]:
    return [row["at"] for row in rows if row["rule"] == rule and row["event"] == "firing"]


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def test_rules_check_accepts_the_kind_and_rejects_bad_options(setup, tmp_path: Path) -> None:
    _, _, rules = setup
    assert run_cli("rules", "check", str(rules)).returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "x"\nkind = "changed_after_marker"\nfactor = 0.5\nwhere = "true"\n')
    result = run_cli("rules", "check", str(bad))
    assert_clean_error(result)
    assert "factor" in result.stderr and "where" in result.stderr


@pytest.mark.slow
def test_backtest_and_ingest_fire_at_the_same_event_times(setup, tmp_path: Path) -> None:
    _, log, rules = setup
    result = run_cli("rules", "backtest", str(rules), str(log.path), "--nl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    rate_fired = fired(rows, "errors_after_deploy")
    assert rate_fired == [iso(expected_firing(log.path, log.deploy_at))]
    (row,) = [r for r in rows if r["rule"] == "errors_after_deploy" and r["event"] == "firing"]
    assert "version 2.2 → 2.3" in json.dumps(row, ensure_ascii=False)
    assert fired(rows, "new_error_kind") == [iso(log.first_new_error)]

    db = tmp_path / "ingest.duckdb"
    done = run_cli("ingest", str(log.path), "--rules", str(rules), "--db", str(db), "--quiet")
    assert done.returncode == 0, done.stderr
    stored = query_db(db, "SELECT rule, fired_at FROM alerts WHERE fired_at IS NOT NULL ORDER BY rule")
    assert [(rule, iso(at.astimezone(UTC))) for rule, at in stored] == [
        ("errors_after_deploy", rate_fired[0]),
        ("new_error_kind", iso(log.first_new_error)),
    ]


def test_a_steady_rate_across_a_deploy_does_not_fire(setup, tmp_path: Path) -> None:
    _, _, rules = setup
    steady = tmp_path / "steady.jsonl"
    start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    with steady.open("w") as out:
        for n in range(3000):
            when = (start + n * timedelta(milliseconds=500)).isoformat().replace("+00:00", "Z")
            level = "error" if n % 20 == 0 else "info"
            version = "1" if n < 1500 else "2"
            out.write(
                json.dumps({"time": when, "level": level, "msg": "job done", "version": version}) + "\n"
            )
    result = run_cli("rules", "backtest", str(rules), str(steady), "--nl")
    assert result.returncode == 0, result.stderr
    assert fired([json.loads(line) for line in result.stdout.splitlines()], "errors_after_deploy") == []


def test_rules_test_runs_the_kind(setup, tmp_path: Path) -> None:
    _, _, rules = setup
    test_file = tmp_path / "deploy_test.toml"
    test_file.write_text(
        f"""
rule_files = ["{rules}"]

[[test]]
name = "errors triple after version 2"
start = "2026-03-01T12:00:00Z"
until = "+20m"

[[test.input]]
every = "2s"
repeat = 300
line = '{{"ts":"{{time}}","level":"info","msg":"ok","version":"1"}}'

[[test.input]]
every = "20s"
repeat = 30
line = '{{"ts":"{{time}}","level":"error","msg":"failed","version":"1"}}'

[[test.input]]
at = "+10m"
every = "2s"
repeat = 300
line = '{{"ts":"{{time}}","level":"info","msg":"ok","version":"2"}}'

[[test.input]]
at = "+10m"
every = "5s"
repeat = 120
line = '{{"ts":"{{time}}","level":"error","msg":"failed","version":"2"}}'

# 107 records since the marker at +12m30s (0.7 a second): the first boundary with 100.
[[test.expect]]
rule = "errors_after_deploy"
event = "firing"
at = "+750s"
summary = '''errors_after_deploy: error rate 29.0% after test: version 1 → 2, 9.1% before \
(31 errors in 107 records) (source=test marker=test: version 1 → 2)'''

# A marker is watched for one window after it.
[[test.expect]]
rule = "errors_after_deploy"
event = "resolved"
at = "+20m"
"""
    )
    result = run_cli("rules", "test", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
