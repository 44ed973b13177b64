"""Patterns end to end: mined as `ingest` stores records (bulk and streaming alike, across runs),
and listed by `logscope patterns`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import query_db, run_cli
from server_helpers import LiveIngest, json_line, wait_until
from servicelog import service_log

# Under pytest-xdist (--dist loadgroup) the whole module runs in one worker: one generated log and its
# database (module fixtures) serve all its tests.
pytestmark = pytest.mark.xdist_group("patterns_cli")

ASSIGNED = "SELECT id, pattern_id FROM logs_with_pattern ORDER BY id"
PATTERNS = (
    "SELECT id, template, count, first_seen, last_seen, example_id, merged_into FROM patterns ORDER BY id"
)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("patterns")
    path = folder / "service.jsonl"
    templates, counts, late = service_log(path)
    return path, templates, counts, late


@pytest.fixture(scope="module")
def db(log, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "one.duckdb"
    done = run_cli("ingest", str(log[0]), "--db", str(path), "--quiet")
    assert done.returncode == 0, done.stderr
    return path


def patterns(db: Path, *options: str) -> list[dict]:
    done = run_cli("patterns", "--db", str(db), "--json", *options)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_each_record_gets_the_pattern_of_its_template(db: Path, log) -> None:
    _, templates, counts, _ = log
    rows = query_db(
        db,
        "SELECT l.id, p.template FROM logs_with_pattern l JOIN patterns p ON p.id = l.pattern_id"
        " ORDER BY l.id",
    )
    assert len(rows) == len(templates)
    by_truth: dict[str, set[str]] = {}
    for (_, found), truth in zip(rows, templates, strict=True):
        by_truth.setdefault(truth, set()).add(found)
    assert all(len(found) == 1 for found in by_truth.values()), by_truth  # no template split
    assert len({next(iter(found)) for found in by_truth.values()}) == len(counts)  # none merged
    assert by_truth["user <*> logged in from <*>"] == {"user <*> logged in from <*>"}


def test_patterns_lists_by_count_with_trend_first_seen_and_example(db: Path, log) -> None:
    _, _, counts, _ = log
    listed = patterns(db)
    assert [row["count"] for row in listed] == sorted(counts.values(), reverse=True)
    top = listed[0]
    assert top["template"] == counts.most_common(1)[0][0]
    assert len(top["trend"]) == 20 and sum(top["trend"]) == top["count"]
    assert top["first_seen"].startswith("2026-11-20T10:00")
    assert top["example"].startswith("user alice logged in from 10.0.")


def test_the_table_shows_a_sparkline(db: Path) -> None:
    done = run_cli("patterns", "--db", str(db), "--tsv", "--limit", "3")
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split("\t") == ["id", "count", "trend", "first_seen", "last_seen", "template", "example"]
    assert len(lines) == 3
    trend = lines[0].split("\t")[2]
    assert len(trend) == 20 and set(trend) <= set("▁▂▃▄▅▆▇█") and "█" in trend


@pytest.mark.slow
def test_filters_new_since_level_source_and_range(db: Path, log) -> None:
    _, _, counts, late = log
    new = patterns(db, "--new-since", late.isoformat())
    assert [row["template"] for row in new] == ["schema migration <*> failed on <*>"]
    errors = patterns(db, "--level", "error")
    assert {row["template"] for row in errors} == {
        "payment <*> declined: insufficient funds",
        "schema migration <*> failed on <*>",
    }
    assert patterns(db, "--level", "warning", "--limit", "1")[0]["template"] == "connection reset by peer"
    assert patterns(db, "--source", "*nothing*") == []
    assert len(patterns(db, "--source", "*service.jsonl")) == len(counts)
    early = patterns(db, "--until", late.isoformat())
    assert "schema migration <*> failed on <*>" not in {row["template"] for row in early}
    assert sum(row["count"] for row in early) == 1500


def test_a_bad_time_is_one_line_and_exit_2(db: Path) -> None:
    done = run_cli("patterns", "--db", str(db), "--since", "yesterday-ish")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a time" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_ingest_without_patterns_then_update(log, tmp_path: Path, db: Path) -> None:
    path = tmp_path / "later.duckdb"
    assert run_cli("ingest", str(log[0]), "--db", str(path), "--quiet", "--no-patterns").returncode == 0
    before = run_cli("patterns", "--db", str(path), "--json")
    assert before.returncode == 0 and json.loads(before.stdout) == []
    assert "3,000 records are not mined yet" in before.stderr
    after = run_cli("patterns", "--db", str(path), "--json", "--update")
    assert after.returncode == 0, after.stderr
    assert "mined 3,000 records" in after.stderr
    assert query_db(path, PATTERNS) == query_db(db, PATTERNS)
    assert query_db(path, ASSIGNED) == query_db(db, ASSIGNED)


@pytest.mark.slow
def test_the_same_patterns_across_runs_and_through_the_streaming_path(log, tmp_path: Path, db: Path) -> None:
    """Ingest the first half, then (a new process: the miner restarts from the table) the second
    half, where the user names become a variable; and the whole log through stdin, the streaming
    path. Both give the ids and patterns a single bulk import gave."""
    path = log[0]
    lines = path.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(lines[:1500]))
    second.write_text("".join(lines[1500:]))
    twice = tmp_path / "twice.duckdb"
    for part in (first, second):
        assert run_cli("ingest", str(part), "--db", str(twice), "--quiet").returncode == 0
    halfway = query_db(twice, "SELECT count(*) FROM patterns WHERE merged_into IS NOT NULL")
    assert halfway[0][0] >= 1  # names seen in the first run were merged in the second
    streamed = tmp_path / "streamed.duckdb"
    done = run_cli("ingest", "-", "--db", str(streamed), "--quiet", input=path.read_bytes())
    assert done.returncode == 0, done.stderr
    for other in (twice, streamed):
        assert query_db(other, ASSIGNED) == query_db(db, ASSIGNED)
        assert query_db(other, PATTERNS) == query_db(db, PATTERNS)


@pytest.mark.slow
def test_retention_deletes_the_patterns_of_the_records_it_deletes(log, tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    assert run_cli("ingest", str(log[0]), "--db", str(path), "--quiet").returncode == 0
    assert query_db(path, "SELECT count(*) FROM record_patterns") == [(3000,)]
    done = run_cli("vacuum", "--retain", "1d", "--db", str(path))  # the log is from 2026-11-20
    assert done.returncode == 0, done.stderr
    assert query_db(path, "SELECT count(*) FROM logs") == [(0,)]
    assert query_db(path, "SELECT count(*) FROM record_patterns") == [(0,)]
    assert patterns(path) == []


@pytest.mark.slow
def test_patterns_of_a_followed_file_while_ingest_holds_the_database(tmp_path: Path) -> None:
    """Records appended to a followed file are mined as they are committed, and `logscope
    patterns` asks the running ingest over its query service."""
    db, log = tmp_path / "live.duckdb", tmp_path / "live.jsonl"
    with LiveIngest(db, log) as live:
        live.append(
            "".join(
                json_line(f"2026-11-20T10:00:{n:02d}Z", f"job {n} finished in {n * 7}ms") for n in range(5)
            )
        )

        def listed() -> list[dict]:
            return [row for row in patterns(db) if row["count"] == 5]

        rows = wait_until(listed)
        assert rows[0]["template"] == "job <*> finished in <*>"
        live.append(json_line("2026-11-20T10:01:00Z", "disk full on /dev/sda1", "error"))
        new = wait_until(lambda: patterns(db, "--new-since", "2026-11-20T10:00:30Z"))
        assert [row["template"] for row in new] == ["disk full on <*>"]
        live.stop()
    assert query_db(db, "SELECT count(*) FROM logs_with_pattern") == [(6,)]
