"""After a deploy, "more of an old error" and "a new kind of error" are different findings:
`compare` lists the first under changed patterns and the second under new ones, and the
`changed_after_marker` rule fires on the first while `new_pattern` fires on the second only
(the generated deploy logs of deploylog.py, one finding without the other)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from deploylog import MORE_OF_OLD, NEW_ERROR, NEW_INSTEAD, OLD_ERROR, deploy_log
from test_marker_rule import RULES, fired, iso

from logscope.store.change_stats import HIGHER, NO_CHANGE


def _compare(tmp_path: Path, change: str):
    log = deploy_log(tmp_path / "api.jsonl", change=change)
    db = str(tmp_path / "deploy.duckdb")
    done = run_cli("ingest", str(log.path), "--db", db, "--quiet")
    assert done.returncode == 0, done.stderr
    done = run_cli("mark", "deploy api v2.3", "--at", log.deploy_at.isoformat(), "--db", db)
    assert done.returncode == 0, done.stderr
    done = run_cli("compare", "--marker", "deploy api", "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    (api_side,) = json.loads(done.stdout)
    return log, api_side


def _backtest(log_path: Path, tmp_path: Path) -> list[dict]:
    rules = tmp_path / "deploy.toml"
    rules.write_text(RULES)
    result = run_cli("rules", "backtest", str(rules), str(log_path), "--nl")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_more_of_an_old_error_is_a_changed_pattern_not_a_new_one(tmp_path: Path) -> None:
    log, api_side = _compare(tmp_path, MORE_OF_OLD)
    assert api_side["judgement"] == HIGHER
    assert api_side["new_patterns"] == []
    changed = {p["template"]: p for p in api_side["changed_patterns"]}
    old = changed[OLD_ERROR]
    assert 1.6 < old["after_share"] / old["before_share"] < 2.6
    rows = _backtest(log.path, tmp_path)
    assert len(fired(rows, "errors_after_deploy")) == 1
    assert fired(rows, "new_error_kind") == []


def test_a_new_error_at_the_old_rate_is_a_new_pattern_and_no_rate_change(tmp_path: Path) -> None:
    log, api_side = _compare(tmp_path, NEW_INSTEAD)
    assert api_side["judgement"] == NO_CHANGE
    assert [p["template"] for p in api_side["new_patterns"]] == [NEW_ERROR]
    changed = {p["template"]: p for p in api_side["changed_patterns"]}
    assert NEW_ERROR not in changed
    assert changed[OLD_ERROR]["after"] == 0  # the old error is gone: a change, not a new pattern
    assert log.first_new_error is not None
    rows = _backtest(log.path, tmp_path)
    assert fired(rows, "errors_after_deploy") == []
    assert fired(rows, "new_error_kind") == [iso(log.first_new_error)]
