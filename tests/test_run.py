"""The run assembly (pipeline/run.py): what `ingest`, `tail` and `rules backtest` build."""

from __future__ import annotations

import contextlib
from datetime import UTC
from pathlib import Path

import pytest
from conftest import REPO

from logscope.errors import LogscopeError
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.rules import RuleSettings
from logscope.pipeline.run import IngestRun, RunSettings
from logscope.pipeline.services import ServiceSettings
from logscope.sources.readers import FileReader
from logscope.sources.spec import FollowOptions, expand_sources
from logscope.store.database import open_for_writing

SAMPLES = REPO / "sample_logs"


def a_run(db: Path, errors: list[str], **settings) -> tuple[IngestRun, object]:
    con = open_for_writing(str(db))
    rules = RuleSettings(paths=[str(REPO / "rules")], builtin=False)
    run = IngestRun(
        con, builtin_registry(UTC), None, RunSettings(str(db), rules=rules, **settings), errors.append
    )
    return run, con


def test_an_attachment_rides_along_the_whole_run(tmp_path: Path) -> None:
    errors: list[str] = []
    run, con = a_run(tmp_path / "run.duckdb", errors)
    seen: list[str] = []

    @contextlib.contextmanager
    def attachment(attached: IngestRun):
        assert attached is run and attached.rules is not None and attached.server is not None
        seen.append("entered")
        attached.pipeline.subscribe(lambda records: seen.append(f"{len(records)} records"))
        yield
        seen.append("left")

    run.attach(attachment)
    run.add_sources([FileReader(str(SAMPLES / "nginx_access.log"))])
    try:
        summary = run.run()
        stored = con.execute("SELECT count(*) FROM logs").fetchone()[0]
        alerts = con.execute("SELECT count(*) FROM alerts WHERE rule = 'web_5xx_burst'").fetchone()[0]
    finally:
        con.close()
    assert errors == []
    assert seen[0] == "entered" and seen[-1] == "left"
    assert sum(int(item.split()[0]) for item in seen[1:-1]) == summary.lines == stored > 0
    assert alerts == 1  # the rules were attached, in event-time order (whole files only)
    assert run.rules is not None and run.rules.tally.notifications >= 1


def test_the_rules_follow_the_pipelines_one_choice_of_path(tmp_path: Path) -> None:
    """Whole files: the bulk path, rules in event-time order; a follower: streaming after catch-up."""
    errors: list[str] = []
    run, con = a_run(tmp_path / "one.duckdb", errors)
    try:
        run.add_sources([FileReader(str(SAMPLES / "app.jsonl"))])
        assert run.pipeline.only_whole_files and run.pipeline.bulk_files
    finally:
        con.close()
    run, con = a_run(tmp_path / "two.duckdb", errors)
    try:
        expansion = expand_sources([str(SAMPLES / "app.jsonl")], FollowOptions(from_start=True))
        run.add_sources(expansion.sources)
        assert not run.pipeline.only_whole_files
        assert [bulk.path for bulk in run.pipeline.bulk_files] == [str(SAMPLES / "app.jsonl")]
    finally:
        con.close()


def test_a_failed_store_is_raised_once_everything_attached_has_ended(tmp_path: Path) -> None:
    errors: list[str] = []
    run, con = a_run(tmp_path / "fail.duckdb", errors, services=ServiceSettings(), patterns=False)
    left: list[bool] = []

    @contextlib.contextmanager
    def breaks_the_store(attached: IngestRun):
        con.execute("DROP TABLE logs")  # the writer's next insert fails
        yield
        left.append(True)

    run.attach(breaks_the_store)
    run.add_sources([FileReader(str(SAMPLES / "app.jsonl"))])
    try:
        with pytest.raises(LogscopeError, match=r"^writing to the database failed: "):
            run.run()
    finally:
        con.close()
    assert left == [True]
