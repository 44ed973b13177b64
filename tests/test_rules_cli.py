"""`logscope rules check|test|backtest` and rules in `ingest`, through the real CLI."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO, assert_clean_error, query_db, run_cli

APPEND_STDIN = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read() + chr(10))"
PACK_TESTS = sorted(str(path) for path in (REPO / "rules" / "tests").glob("*_test.toml"))


def nginx_lines(start: datetime, statuses: list[int], step: float = 1.0) -> str:
    lines = []
    for index, status in enumerate(statuses):
        moment = start + timedelta(seconds=index * step)
        lines.append(
            f'203.0.113.{index % 5} - - [{moment:%d/%b/%Y:%H:%M:%S +0000}] "GET /p/{index} HTTP/1.1"'
            f' {status} 100 "-" "curl/8.5.0"'
        )
    return "\n".join(lines) + "\n"


def test_check_accepts_the_bundled_packs() -> None:
    result = run_cli("rules", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 12 rules, 0 actions in 3 files")


def test_check_names_file_rule_and_field_for_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[actions.pager]
type = "webhook"
url = "ftp://example.com"

[[rule]]
name = "no_window"
kind = "threshold"
threshold = 5

[[rule]]
name = "bad_duration"
kind = "match"
window = "5 minutes"

[[rule]]
name = "typo"
kind = "match"
wehre = "true"

[[rule]]
name = "odd"
kind = "whatever"

[[rule]]
name = "loud"
severity = "extreme"
summary = "{nope} happened"

[[rule]]
name = "unannounced"
actions = ["missing"]

[[rule]]
name = "not_a_condition"
where = "length(message)"

[[rule]]
name = "unknown_function"
where = "no_such_function(message) > 1"
"""
    )
    result = run_cli("rules", "check", str(path))
    assert_clean_error(result, 2)
    problems = [
        line.removeprefix("logscope: error: ") for line in result.stderr.splitlines() if "error:" in line
    ]
    p = str(path)
    expected = [
        f"{p}: field 'actions.pager.url': required: an http:// or https:// URL",
        f"{p}: rule 'no_window': field 'window': required for a threshold rule",
        f"{p}: rule 'bad_duration': field 'window': expected a duration like 30s, 5m, 1h, got '5 minutes'",
        f"{p}: rule 'typo': field 'wehre': not a field of a match rule",
        f"{p}: rule 'odd': field 'kind': unknown kind 'whatever' (one of: match, threshold, ratio, spike,"
        " absence, new_value, new_pattern, sql, changed_after_marker)",
        f"{p}: rule 'loud': field 'severity': one of: info, warning, error, critical",
    ]
    for line in expected:
        assert line in problems, (line, problems)
    assert any(
        line.startswith(f"{p}: rule 'loud': field 'summary': unknown placeholder {{nope}}")
        for line in problems
    )
    assert (
        f"{p}: rule 'unannounced': field 'actions': unknown action 'missing' (known: none defined)"
        in problems
    )
    not_boolean = "must be a condition (true or false), but its type is BIGINT"
    assert f"{p}: rule 'not_a_condition': field 'where': {not_boolean}" in problems
    assert any(
        line.startswith(
            f"{p}: rule 'unknown_function': field 'where': Catalog Error: Scalar Function with name"
        )
        for line in problems
    )


def test_check_of_rules_that_bind_together_still_names_each_one_that_is_not_a_condition(
    tmp_path: Path,
) -> None:
    # Rules that bind are checked in one query; the types it reports are told apart per rule.
    rules = tmp_path / "rules.toml"
    rules.write_text(
        """
[[rule]]
name = "fine"
kind = "ratio"
where = "status >= 500"
total = "method = 'GET'"
ratio = 0.5
window = "5m"

[[rule]]
name = "total_not_a_condition"
kind = "ratio"
where = "status >= 500"
total = "status"
ratio = 0.5
window = "5m"

[[rule]]
name = "also_fine"
where = "level = 'error'"
group_by = ["client"]
"""
    )
    result = run_cli("rules", "check", str(rules))
    assert_clean_error(result, 2)
    problems = [line for line in result.stderr.splitlines() if f"{rules}: rule" in line]
    assert problems == [
        f"logscope: error: {rules}: rule 'total_not_a_condition': field 'total': must be a condition"
        " (true or false),"
        " but its type is BIGINT"
    ]


def test_check_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rule]\nname = 1\n")
    result = run_cli("rules", "check", str(broken), str(tmp_path / "missing.toml"))
    assert_clean_error(result, 2)
    assert f"{broken}: not valid TOML" in result.stderr
    assert f"{tmp_path / 'missing.toml'}: cannot read: No such file or directory" in result.stderr


@pytest.mark.slow
def test_the_bundled_packs_pass_their_own_tests() -> None:
    assert len(PACK_TESTS) == 3
    result = run_cli("rules", "test", *PACK_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert result.stdout.strip().endswith("12 passed, 0 failed")


@pytest.mark.slow
def test_a_wrong_expectation_fails_with_a_diff(tmp_path: Path) -> None:
    source = (REPO / "rules" / "tests" / "web_test.toml").read_text()
    wrong = source.replace('at = "+19s"', 'at = "+18s"', 1)
    assert wrong != source
    path = tmp_path / "web_test.toml"
    path.write_text(
        wrong.replace('rule_files = ["../web.toml"]', f'rule_files = ["{REPO / "rules" / "web.toml"}"]')
    )
    result = run_cli("rules", "test", str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    failed = lines.index(
        f"FAIL {path}: a burst of 20 5xx in a minute fires, and resolves when the first leaves the window"
    )
    alert = "web_5xx_burst firing {source=test} summary='20 HTTP 5xx responses in 1m in test'"
    assert lines[failed + 1] == f"  - 2026-01-01T00:00:18.000Z {alert}"
    assert lines[failed + 2] == f"  + 2026-01-01T00:00:19.000Z {alert}"
    assert lines[-1] == "5 passed, 1 failed"


def test_a_test_file_with_a_bad_key_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        f'rule_files = ["{REPO / "rules" / "web.toml"}"]\n'
        '[[test]]\nname = "x"\n[[test.expect]]\nrule = "a"\nat = "soon"\n'
    )
    result = run_cli("rules", "test", str(path))
    assert_clean_error(result, 2)
    assert (
        f"{path}: test 'x': expect #1: at: expected +DURATION (like +90s) or an RFC 3339 time, got 'soon'"
        in result.stderr
    )


def test_backtest_replays_an_old_file_on_its_own_event_time(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    # 2019: a minute of normal traffic, 25 errors in 25 s, then quiet traffic.
    statuses = [200] * 60 + [502] * 25 + [200] * 200
    log.write_text(nginx_lines(datetime(2019, 3, 4, 5, 0, 0, tzinfo=UTC), statuses))
    result = run_cli("rules", "backtest", str(REPO / "rules" / "web.toml"), str(log), "--nl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    burst = [(row["at"], row["event"]) for row in rows if row["rule"] == "web_5xx_burst"]
    # The 20th error is at 05:01:19; the 6th leaves the minute at 05:02:05, leaving 19.
    assert burst == [("2019-03-04T05:01:19.000Z", "firing"), ("2019-03-04T05:02:05.000Z", "resolved")]
    assert "backtest: 285 lines, 2 alerts fired" in result.stderr  # the 5xx share fires too


def test_ingest_runs_rules_writes_alerts_out_and_the_alerts_table(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(nginx_lines(datetime(2026, 2, 1, tzinfo=UTC), [200] * 10 + [500] * 30))
    marker = tmp_path / "exec.jsonl"
    rules = tmp_path / "mine.toml"
    rules.write_text(
        f"""
[actions.record]
type = "exec"
command = ["{sys.executable}", "-c", "{APPEND_STDIN}", "{marker}"]

[[rule]]
name = "server_errors"
kind = "threshold"
where = "status >= 500"
window = "1m"
threshold = 5
actions = ["record"]
summary = "{{count}} errors"
"""
    )
    result = run_cli(
        "ingest", str(log), "--db", str(db), "--rules", str(rules), "--no-default-rules", "--alerts-out", "-"
    )
    assert result.returncode == 0, result.stderr
    notifications = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(n["rule"], n["event"], n["at"], n["summary"]) for n in notifications] == [
        ("server_errors", "firing", "2026-02-01T00:00:14.000Z", "5 errors")
    ]
    assert "alerts: 1 alert (1 firing), 1 notification (see" in result.stderr
    executed = [json.loads(line) for line in marker.read_text().splitlines()]
    assert [(n["rule"], n["event"]) for n in executed] == [("server_errors", "firing")]
    rows = query_db(db, "SELECT rule, state, count, summary, len(example_ids) FROM alerts")
    assert rows == [("server_errors", "firing", 30, "30 errors", 5)]
    ids = query_db(db, "SELECT unnest(example_ids) FROM alerts")
    statuses = query_db(
        db, f"SELECT DISTINCT fields->>'status' FROM logs WHERE id IN ({','.join(str(i[0]) for i in ids)})"
    )
    assert statuses == [("500",)]


@pytest.mark.slow
def test_ingest_loads_the_bundled_packs_by_default(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(nginx_lines(datetime(2026, 2, 1, tzinfo=UTC), [503] * 25))
    result = run_cli("ingest", str(log), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert query_db(db, "SELECT rule, state FROM alerts") == [("web_5xx_burst", "firing")]
    quiet = tmp_path / "quiet.duckdb"
    result = run_cli("ingest", str(log), "--db", str(quiet), "--no-default-rules")
    assert result.returncode == 0, result.stderr
    assert query_db(quiet, "SELECT count(*) FROM alerts") == [(0,)]


def test_ingest_refuses_bad_rules_before_reading_anything(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text('{"msg": "hi"}\n')
    rules = tmp_path / "bad.toml"
    rules.write_text('[[rule]]\nname = "x"\nkind = "threshold"\nwindow = "1m"\nthreshold = 0\n')
    result = run_cli("ingest", str(log), "--db", str(db), "--rules", str(rules))
    assert_clean_error(result, 2)
    assert f"{rules}: rule 'x': field 'threshold': must be at least 1, got 0" in result.stderr
    assert query_db(db, "SELECT count(*) FROM logs") == [(0,)]


@pytest.mark.slow
def test_backtest_over_several_files_replays_them_in_time_order(tmp_path: Path) -> None:
    # Two services log heartbeats every 30 s among much busier lines; one falls silent from 00:10
    # to 00:20. Read side by side, one file's blocks run ahead of the other's in event time, and
    # an engine fed in arrival order would see silences that never were.
    start = datetime(2020, 1, 1, tzinfo=UTC)

    def service(silent: range, busy_ms: int) -> str:
        lines = []
        for n in range(40 * 60_000 // busy_ms):
            at = start + timedelta(milliseconds=busy_ms * n)
            text = at.isoformat().replace("+00:00", "Z")
            lines.append(json.dumps({"time": text, "level": "info", "msg": "busy", "n": n}))
            second = busy_ms * n / 1000
            if second % 30 == 0 and not (silent.start <= second < silent.stop):
                lines.append(json.dumps({"time": text, "level": "info", "msg": "heartbeat"}))
        return "\n".join(lines) + "\n"

    (tmp_path / "a.jsonl").write_text(service(range(600, 1200), 50))
    (tmp_path / "b.jsonl").write_text(service(range(0), 40))
    runs = [
        run_cli("rules", "backtest", str(REPO / "rules" / "app.toml"), str(tmp_path), "--nl")
        for _ in range(3)
    ]
    assert all(run.returncode == 0 for run in runs), runs[0].stderr
    rows = [json.loads(text) for text in runs[0].stdout.splitlines()]
    silent = [
        (row["at"], row["event"], row["group"]) for row in rows if row["rule"] == "app_missing_heartbeat"
    ]
    assert silent[:2] == [
        ("2020-01-01T00:14:30.000Z", "firing", f"source={tmp_path / 'a.jsonl'}"),
        ("2020-01-01T00:20:00.000Z", "resolved", f"source={tmp_path / 'a.jsonl'}"),
    ]
    assert {group for _, _, group in silent} == {f"source={tmp_path / 'a.jsonl'}"}
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout


@pytest.mark.slow
def test_ingest_of_several_files_fires_what_a_backtest_fires(tmp_path: Path, db: Path) -> None:
    # Files are imported one after another; the rules must still see them in event-time order,
    # so the alerts stored are those a backtest of the same files reports, at the same times.
    samples = REPO / "sample_logs"
    result = run_cli("ingest", str(samples), "--db", str(db))
    assert result.returncode == 0, result.stderr
    stored = {
        (rule, fired.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for rule, fired in query_db(db, "SELECT rule, fired_at FROM alerts WHERE fired_at IS NOT NULL")
    }
    backtest = run_cli("rules", "backtest", str(REPO / "rules"), str(samples), "--nl")
    assert backtest.returncode == 0, backtest.stderr
    fired = {
        (row["rule"], row["at"])
        for row in map(json.loads, backtest.stdout.splitlines())
        if row["event"] == "firing"
    }
    assert stored == fired
    assert ("web_5xx_burst", "2026-11-20T14:06:30.000Z") in stored


@pytest.mark.slow
def test_ingest_with_the_bundled_folder_or_an_edited_copy_of_it(tmp_path: Path) -> None:
    """`--rules rules/` (or a copy edited as docs/rules.md suggests): a user's rule named like a
    bundled one replaces it, as a user's format does a built-in one."""
    log = tmp_path / "access.log"
    log.write_text(nginx_lines(datetime(2026, 2, 1, tzinfo=UTC), [503] * 12))
    bundled = run_cli("ingest", str(log), "--db", str(tmp_path / "a.duckdb"), "--rules", str(REPO / "rules"))
    assert bundled.returncode == 0, bundled.stderr
    assert "defined" not in bundled.stderr
    assert query_db(tmp_path / "a.duckdb", "SELECT count(*) FROM alerts") == [(0,)]  # 12 < 20
    copy = tmp_path / "my-rules"
    copy.mkdir()
    for pack in ("web", "app", "system"):
        (copy / f"{pack}.toml").write_text((REPO / "rules" / f"{pack}.toml").read_text())
    web = copy / "web.toml"
    web.write_text(web.read_text().replace("threshold = 20\n", "threshold = 10\n", 1))
    edited = run_cli("ingest", str(log), "--db", str(tmp_path / "b.duckdb"), "--rules", str(copy))
    assert edited.returncode == 0, edited.stderr
    assert query_db(tmp_path / "b.duckdb", "SELECT rule, count FROM alerts") == [("web_5xx_burst", 12)]


@pytest.mark.slow
def test_a_rule_in_two_of_the_users_files_is_one_line_naming_both(tmp_path: Path, db: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    rule = '[[rule]]\nname = "errors"\nwhere = "level = \'error\'"\n'
    first.write_text(rule)
    second.write_text(rule)
    log = tmp_path / "app.log"
    log.write_text('{"msg": "hi"}\n')
    for result in (
        run_cli("ingest", str(log), "--db", str(db), "--rules", str(tmp_path)),
        run_cli("rules", "check", str(tmp_path)),
    ):
        assert_clean_error(result, 2)
        assert f"rule 'errors' is defined in {first} and in {second}" in result.stderr
        assert result.stderr.count("defined in") == 1
    # The same file named twice is read once.
    twice = run_cli("rules", "check", str(first), str(first), str(tmp_path / "a.toml"))
    assert (twice.returncode, twice.stdout) == (0, "ok: 1 rule, 0 actions in 1 file\n")
