"""The new_pattern rule kind (issue 18): a message of a pattern never seen before fires, at the
first occurrence's event time, alike in `ingest`, `tail` (catching up, then following) and
`rules backtest`; and `rules check` and `rules test` know the kind."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import query_db, run_cli
from deploylog import NEW_ERROR, deploy_log
from servicelog import START, service_log
from terminal import tmux_socket_name
from test_alert_identity import (
    ALERTS_SQL,
    assert_same,
    examples_as_lines,
    needs_tmux,
    notified,
    tail_alerts,
)

RULES = """
[[rule]]
name = "new_error_pattern"
kind = "new_pattern"
errors_only = true
learn = "10m"

[[rule]]
name = "new_pattern_any"
kind = "new_pattern"
learn = "10m"
severity = "info"
"""
MIGRATION = "schema migration <*> failed on <*>"  # the error message new in the log's second half


def iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def test_check_knows_the_kind_and_names_a_bad_option(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    result = run_cli("rules", "check", str(rules))
    assert result.returncode == 0, result.stderr
    rules.write_text('[[rule]]\nname = "np"\nkind = "new_pattern"\nerrors_only = "yes"\ngroup_by = ["x"]\n')
    result = run_cli("rules", "check", str(rules))
    assert result.returncode != 0
    assert f"{rules}: rule 'np': field 'errors_only': expected true or false, got 'yes'" in result.stderr
    assert f"{rules}: rule 'np': field 'group_by': not a field of a new_pattern rule" in result.stderr
    assert "Traceback" not in result.stderr


def test_rules_test_runs_a_new_pattern_rule(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(RULES)
    test = tmp_path / "new_pattern_test.toml"
    test.write_text(
        """rule_files = ["rules.toml"]

[[test]]
name = "a new kind of error after the learning period fires once, its numbers masked"
start = "2026-03-01T12:00:00Z"
until = "+1h"

[[test.input]]
every = "1m"
repeat = 30
line = '{"ts":"{time}","level":"error","msg":"request 17 failed after 120ms"}'

[[test.input]]
at = "+20m"
every = "1m"
repeat = 3
line = '{"ts":"{time}","level":"error","msg":"disk /dev/sda1 is 98% full"}'

[[test.expect]]
rule = "new_error_pattern"
event = "firing"
at = "+20m"
group = { pattern = "disk <*> is <*> full" }

[[test.expect]]
rule = "new_pattern_any"
event = "firing"
at = "+20m"

# The last of the three leaves the 5-minute window at +27m: both alerts resolve.
[[test.expect]]
rule = "new_error_pattern"
event = "resolved"
at = "+27m"

[[test.expect]]
rule = "new_pattern_any"
event = "resolved"
at = "+27m"
"""
    )
    result = run_cli("rules", "test", str(test))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def backtest(logs: Path, rules: Path) -> tuple[list[dict], list[tuple]]:
    table = run_cli(
        "rules", "backtest", "--alerts", str(rules), logs.name, "--output", "jsonl", cwd=logs.parent
    )
    assert table.returncode == 0, table.stderr
    listed = run_cli("rules", "backtest", str(rules), logs.name, "--output", "jsonl", cwd=logs.parent)
    assert listed.returncode == 0, listed.stderr
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    return [json.loads(line) for line in table.stdout.splitlines()], [
        (event["at"], event["event"], event["rule"], event["count"], event["summary"]) for event in events
    ]


@pytest.mark.slow  # (minutes on a loaded machine)
@needs_tmux
def test_a_new_error_message_fires_at_its_first_occurrence_in_ingest_tail_and_backtest(
    tmp_path: Path, whole: Path
) -> None:
    templates, _, _ = service_log(whole / "service.jsonl")
    first = START + dt.timedelta(seconds=templates.index(MIGRATION))
    anything = assert_fires_alike(tmp_path, whole / "service.jsonl", MIGRATION, first)
    assert MIGRATION + ")" in anything  # (and the user names first seen in the second half)


@pytest.mark.slow  # (minutes on a loaded machine)
@needs_tmux
def test_on_the_deploy_log_the_new_error_fires_at_its_first_line_in_ingest_tail_and_backtest(
    tmp_path: Path, whole: Path
) -> None:
    # The log of the compare tests (tests/deploylog.py): a deploy in the middle, after which a new
    # error message appears and the error rate doubles; `compare` reports both (test_compare.py).
    log = deploy_log(whole / "service.jsonl")
    assert log.first_new_error is not None and log.first_new_error >= log.deploy_at
    assert_fires_alike(tmp_path, log.path, NEW_ERROR, log.first_new_error)


@pytest.fixture
def whole(tmp_path: Path) -> Path:
    """The directory the whole log is written to (ingest and backtest read it)."""
    folder = tmp_path / "whole" / "logs"
    folder.mkdir(parents=True)
    return folder


def assert_fires_alike(tmp_path: Path, path: Path, template: str, first: dt.datetime) -> set[str]:
    """new_error_pattern fires once, for `template`, at `first`, in ingest; backtest and tail
    (catching up on the first 1,000 lines, then following the rest) give the same alerts.
    The old error message (payment failures), seen before the new one, is not new in either log.
    Returns the patterns new_pattern_any fired for."""
    rules = tmp_path / "new_pattern.toml"
    rules.write_text(RULES)
    whole = path.parent
    lines = path.read_text().splitlines()

    db, out = tmp_path / "ingest.duckdb", tmp_path / "ingest.jsonl"
    args = ["--no-default-rules", "--rules", str(rules), "--db", str(db), "--alerts-out", str(out)]
    result = run_cli("ingest", "-q", whole.name, *args, cwd=whole.parent)
    assert result.returncode == 0, result.stderr
    ingested = query_db(db, ALERTS_SQL), notified(out)
    errors = [event for event in ingested[1] if event[2] == "new_error_pattern"]
    assert errors == [
        (iso(first), "firing", "new_error_pattern", 1,
         f"new_error_pattern: new pattern first seen (pattern={template})"),
    ]  # fmt: skip

    table, events = backtest(whole, rules)
    assert events == ingested[1]
    assert [(row["rule"], row["group"], row["first_at"]) for row in table] == [
        (row[1], row[4], iso(dt.datetime.fromtimestamp(row[5] / 1e6, dt.UTC))) for row in ingested[0]
    ]

    growing = tmp_path / "growing" / "logs"
    growing.mkdir(parents=True)
    (growing / path.name).write_text("\n".join(lines[:1000]) + "\n")
    tail_db = tmp_path / "tail.duckdb"
    appended = [(path.name, lines[start : start + 250]) for start in range(1000, len(lines), 250)]
    followed = tail_alerts(
        growing, tail_db, tmp_path / "tail.jsonl", tmux_socket_name("logscope-np"), appended, rules=rules
    )
    assert_same(
        "tail",
        (examples_as_lines(ingested[0], db), ingested[1]),
        (examples_as_lines(followed[0], tail_db), followed[1]),
    )
    anything = {event[4].split("pattern=")[1] for event in ingested[1] if event[2] == "new_pattern_any"}
    assert not any("payment" in pattern for pattern in anything)  # learnt before: not new
    return anything


def test_patterns_stored_before_the_run_are_known(tmp_path: Path) -> None:
    # As new_value's values: a later ingest into the same database starts out knowing the
    # patterns of the records stored before it (`history`).
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "np"\nkind = "new_pattern"\n')
    db = tmp_path / "logs.duckdb"

    def ingest(name: str, minute: int, messages: list[str]) -> list[str]:
        log, out = tmp_path / name, tmp_path / f"{name}.alerts"
        log.write_text(
            "".join(
                json.dumps({"ts": f"2026-03-01T12:{minute:02d}:{second:02d}Z", "level": "info", "msg": text})
                + "\n"
                for second, text in enumerate(messages)
            )
        )
        args = ["--no-default-rules", "--rules", str(rules), "--db", str(db), "--alerts-out", str(out)]
        result = run_cli("ingest", "-q", str(log), *args)
        assert result.returncode == 0, result.stderr
        return [event[4].split("pattern=")[1][:-1] for event in notified(out) if event[1] == "firing"]

    assert ingest("first.jsonl", 0, ["disk 1 full", "user 2 logged in", "disk 3 full"]) == [
        "disk <*> full",
        "user <*> logged in",
    ]
    assert ingest("second.jsonl", 30, ["disk 7 full", "cache miss", "user 9 logged in"]) == ["cache miss"]
