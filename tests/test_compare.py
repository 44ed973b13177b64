"""Change markers and before/after comparison: `logscope mark`, `markers` and `compare` on a
generated service log with a deploy in the middle (docs/compare.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_clean_error, query_db, run_cli
from deploylog import NEW_ERROR, STEP, deploy_log, steady_log
from server_helpers import LiveIngest, json_line, wait_until

from logscope.store.change_stats import HIGHER, NO_CHANGE, TOO_FEW, judge_rates


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("deploy")
    api = deploy_log(folder / "api.jsonl")
    steady_log(folder / "web.jsonl", 2000, seed=3)
    steady_log(folder / "cron.jsonl", 24, seed=5, step=STEP * 160)
    return folder, api


@pytest.fixture(scope="module")
def db(logs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, api = logs
    path = tmp_path_factory.mktemp("db") / "deploy.duckdb"
    done = run_cli("ingest", str(folder), "--db", str(path), "--quiet")
    assert done.returncode == 0, done.stderr
    at = api.deploy_at.isoformat()
    done = run_cli(
        "mark",
        "deploy api v2.3",
        "--at",
        at,
        "--source",
        source_of(path, "api"),
        "--tag",
        "by=ci",
        "--db",
        str(path),
    )
    assert done.returncode == 0, done.stderr
    assert "deploy api v2.3" in done.stdout
    return path


def source_of(db: Path, stem: str) -> str:
    rows = query_db(db, "SELECT DISTINCT source FROM logs WHERE source LIKE ?", [f"%{stem}%"])
    assert len(rows) == 1, rows
    return rows[0][0]


def cli_json(*args: str):
    done = run_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def by_source(comparisons: list[dict], stem: str) -> dict:
    (found,) = [c for c in comparisons if stem in c["source"]]
    return found


def test_a_version_change_in_the_records_makes_a_marker(db: Path, logs) -> None:
    _, api = logs
    markers = cli_json("markers", "--db", str(db))
    made = [m for m in markers if m["origin"] == "version"]
    assert len(made) == 1, markers
    assert made[0]["source"] == source_of(db, "api")
    assert made[0]["ts"].startswith(api.deploy_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert made[0]["text"].endswith("version 2.2 → 2.3")
    assert made[0]["tags"] == {"version": "2.3", "previous": "2.2"}
    by_hand = [m for m in markers if m["origin"] == "mark"]
    assert [m["text"] for m in by_hand] == ["deploy api v2.3"] and by_hand[0]["tags"] == {"by": "ci"}


def test_compare_reports_the_new_error_and_the_doubled_error_rate(db: Path, logs) -> None:
    _, api = logs
    (api_side,) = cli_json("compare", "--marker", "deploy api", "--db", str(db))
    assert api_side["before"]["errors"] == api.errors_before
    assert api_side["after"]["errors"] == api.errors_after
    assert api_side["judgement"] == HIGHER
    assert 1.6 < api_side["error_rate_ratio"] < 2.6
    assert api_side["p_value"] < 0.001
    new = api_side["new_patterns"]
    assert [p["template"] for p in new] == [NEW_ERROR]
    assert new[0]["first_seen"].startswith(api.first_new_error.strftime("%Y-%m-%dT%H:%M:%S"))
    shifted = {f["field"]: f for f in api_side["shifted_fields"]}
    assert shifted["endpoint"]["value"] == "/checkout"
    assert shifted["endpoint"]["after_share"] > shifted["endpoint"]["before_share"] + 0.3
    changed = [p["template"] for p in api_side["changed_patterns"]]
    assert NEW_ERROR not in changed  # new patterns are listed as new, not as changed


def test_sources_that_did_not_change_or_have_few_records_are_not_called_changed(db: Path, logs) -> None:
    _, api = logs
    window = f"{(api.deploy_at - 1000 * STEP).isoformat()}..{api.deploy_at.isoformat()}"
    after = f"{api.deploy_at.isoformat()}.."
    every = cli_json("compare", "--before", window, "--after", after, "--db", str(db))
    assert by_source(every, "api")["judgement"] == HIGHER
    assert by_source(every, "web")["judgement"] == NO_CHANGE
    cron = by_source(every, "cron")
    assert cron["judgement"] == TOO_FEW and cron["p_value"] is None
    assert by_source(every, "web")["new_patterns"] == []


def test_the_table_for_people_says_the_same(db: Path) -> None:
    done = run_cli("compare", "--marker", "deploy api", "--table", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "deploy api v2.3" in done.stdout
    assert "higher (p = " in done.stdout
    assert NEW_ERROR in done.stdout
    assert "/checkout" in done.stdout
    rows = run_cli("compare", "--marker", "deploy api", "--csv", "--db", str(db)).stdout.splitlines()
    assert rows[0] == "source,finding,subject,before,after,change,judgement"
    assert any(",new_pattern," in row and NEW_ERROR in row for row in rows)


def test_judgement_needs_enough_records_and_a_real_change() -> None:
    assert judge_rates(1, 40, 3, 40).verdict == TOO_FEW  # three times as many, but 4 errors
    assert judge_rates(50, 1000, 100, 1000).verdict == HIGHER
    assert judge_rates(100, 1000, 50, 1000).verdict == "lower"
    assert judge_rates(50_000, 1_000_000, 51_000, 1_000_000).verdict == NO_CHANGE  # p tiny, 2% more
    assert judge_rates(50, 1000, 58, 1000).verdict == NO_CHANGE  # within chance
    assert judge_rates(0, 1000, 30, 1000).verdict == HIGHER and judge_rates(0, 1000, 30, 1000).ratio is None


def test_bad_input_gets_one_line(db: Path, tmp_path: Path) -> None:
    assert_clean_error(run_cli("mark", "x", "--tag", "novalue", "--db", str(db)), 2)
    assert_clean_error(run_cli("mark", "x", "--at", "yesterday-ish", "--db", str(db)), 2)
    assert_clean_error(run_cli("compare", "--marker", "no such deploy", "--db", str(db)), 2)
    assert_clean_error(
        run_cli("compare", "--before", "2026-11-20", "--after", "2026-11-21..", "--db", str(db)), 2
    )
    assert_clean_error(run_cli("compare", "--db", str(db)), 2)
    assert_clean_error(run_cli("compare", "--marker", "1", "--db", str(tmp_path / "none.duckdb")))


@pytest.mark.slow
def test_mark_markers_and_compare_while_an_ingest_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "live.duckdb"
    live = LiveIngest(db, tmp_path / "live.jsonl")
    try:
        live.append(
            "".join(json_line(f"2026-11-20T10:00:{n:02d}Z", f"request {n} served") for n in range(50))
        )
        done = run_cli(
            "mark", "deploy live v1", "--at", "2026-11-20T10:01:00Z", "--tag", "version=1", "--db", str(db)
        )
        assert done.returncode == 0, done.stderr
        live.append(
            "".join(
                json_line(f"2026-11-20T10:01:{n:02d}Z", f"request {n} failed", "error") for n in range(50)
            )
        )
        markers = cli_json("markers", "--db", str(db))
        assert [m["text"] for m in markers] == ["deploy live v1"]

        def compared() -> list[dict]:
            return cli_json("compare", "--marker", "deploy live", "--db", str(db))

        wait_until(lambda: [c["after"]["errors"] for c in compared()] == [50])
        (live_side,) = compared()
        assert live_side["before"] == {**live_side["before"], "records": 50, "errors": 0}
        assert live_side["judgement"] == HIGHER
        assert [p["template"] for p in live_side["new_patterns"]] == ["request <*> failed"]
    finally:
        stderr = live.stop()
    assert "Traceback" not in stderr
    assert query_db(db, "SELECT text, tags->>'version' FROM markers") == [("deploy live v1", "1")]
