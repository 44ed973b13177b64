"""Snapshots of the main screens (pytest-textual-snapshot); fixed data and times, no clock shown.

Update the baselines after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_helpers import SIZE, START_US, make_db, settle
from textual.widgets import Input

from logscope.store.alerts import write_alerts
from logscope.tui.app import LogscopeApp


@pytest.fixture
def app(tmp_path: Path):
    con, _ = make_db(tmp_path / "snap.duckdb")
    yield LogscopeApp(con, poll_seconds=0)
    con.close()


async def query_done(pilot) -> None:
    """Wait until the SQL screen has shown its query's result (it runs in a worker thread)."""
    for _ in range(200):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not pilot.app.screen.running:
            return
    raise AssertionError("the query did not finish")


async def no_blink(pilot) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def test_main_view_following(app, snap_compare) -> None:
    assert snap_compare(app, terminal_size=SIZE)


def test_search_and_level_filter(app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("2")  # hide debug
        await settle(pilot)
        await pilot.press("slash", *"payment", "enter")
        await settle(pilot)
        await pilot.press("N")
        await settle(pilot)
        await pilot.press("N")
        await settle(pilot)
        await no_blink(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_sql_predicate_filter(app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("f")
        app.filter_bar.query_one("#filter", Input).value = "source = 'stdin' AND level = 'warning'"
        await pilot.press("enter")
        await settle(pilot)
        await no_blink(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_detail_view(app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("up", "up", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_sql_screen_results(app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("s")
        await no_blink(pilot)
        pilot.app.screen.query_one(
            Input
        ).value = "SELECT level, count(*) AS records FROM logs GROUP BY level ORDER BY records DESC, level"
        await pilot.press("enter")
        await query_done(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_sql_screen_error(app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("s")
        await no_blink(pilot)
        pilot.app.screen.query_one(Input).value = "SELECT * FROM nowhere"
        await pilot.press("enter")
        await query_done(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_overview(app, snap_compare) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("o")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        pilot.app.poll_now()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help(app, snap_compare) -> None:
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"])


def test_alert_selected(app, snap_compare) -> None:
    at = START_US + 105_000_000
    write_alerts(
        app.reader.cursor,
        [
            {
                "id": 1,
                "rule": "error_storm",
                "kind": "threshold",
                "severity": "critical",
                "state": "firing",
                "group_key": "",
                "labels": {},
                "first_at": at,
                "fired_at": at,
                "last_at": at,
                "resolved_at": None,
                "updated_at": at,
                "count": 3,
                "value": None,
                "summary": "3 payment errors in 1m",
                "example_ids": [102, 110, 118],
                "notifications": 1,
            },
            {
                "id": 2,
                "rule": "web_5xx_burst",
                "kind": "threshold",
                "severity": "warning",
                "state": "resolved",
                "group_key": "",
                "labels": {},
                "first_at": at - 60_000_000,
                "fired_at": at - 60_000_000,
                "last_at": at - 30_000_000,
                "resolved_at": at - 30_000_000,
                "updated_at": at,
                "count": 12,
                "value": None,
                "summary": "12 HTTP 5xx in 1m",
                "example_ids": [3, 6],
                "notifications": 1,
            },
        ],
    )

    async def run_before(pilot) -> None:
        pilot.app.poll_now()
        await pilot.press("a", "enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
