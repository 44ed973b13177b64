"""The TUI through Textual's pilot: a real DuckDB store, a real pipeline reading a real pipe."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC
from pathlib import Path

import pytest
from test_tui_helpers import SIZE, START_US, make_db, plain, settle
from textual.widgets import DataTable, Input, OptionList

from logscope.commands.tail import PipeReader
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.streaming import Pipeline
from logscope.store.alerts import write_alerts
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter
from logscope.tui.app import LogscopeApp
from logscope.tui.detail_screen import DetailScreen
from logscope.tui.filters import text_match
from logscope.tui.help_screen import HelpScreen
from logscope.tui.live import LiveFeed
from logscope.tui.overview_screen import OverviewScreen
from logscope.tui.sql_screen import SqlScreen


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (or fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def shown_messages(app: LogscopeApp) -> list[str]:
    return [row.message for row in app.log_view.rows_on_screen()]


async def type_into(pilot, text: str) -> None:
    for char in text:
        await pilot.press(char if char != " " else "space")


async def submit_filter(pilot, app: LogscopeApp, text: str) -> None:
    await pilot.press("f")
    app.filter_bar.query_one("#filter", Input).value = text
    await pilot.press("enter")
    await settle(pilot)


@pytest.fixture
def db_app(tmp_path: Path):
    con, _ = make_db(tmp_path / "tui.duckdb")
    yield LogscopeApp(con, poll_seconds=0)
    con.close()


def test_lines_appear_as_they_are_ingested_from_a_pipe(tmp_path: Path) -> None:
    con = open_for_writing(str(tmp_path / "live.duckdb"))
    read_fd, write_fd = os.pipe()
    pipeline = Pipeline(LogWriter(con), builtin_registry(UTC), flush_seconds=0.02)
    pipeline.add_source(PipeReader(read_fd))
    feed = LiveFeed(pipeline)
    app = LogscopeApp(con, feed=feed, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            pipeline.start()
            assert app.log_view.total == 0
            os.write(write_fd, b'{"level": "info", "msg": "first line"}\nlevel=error msg="second line"\n')
            await wait_for(pilot, lambda: "second line" in shown_messages(app))
            assert shown_messages(app) == ["first line", "second line"]
            os.write(write_fd, b"".join(b'level=debug msg="line %d"\n' % i for i in range(100)))
            await wait_for(pilot, lambda: app.log_view.total == 102)
            assert shown_messages(app)[-1] == "line 99"  # following: the newest is at the bottom
            assert app.log_view.following
            assert app.log_view.current_row().message == "line 99"

    try:
        asyncio.run(scenario())
    finally:
        os.close(write_fd)
        pipeline.request_stop()
        pipeline.wait(5)
        con.close()


@pytest.mark.slow
def test_sql_predicate_text_and_regex_filters_change_what_is_shown(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            assert db_app.log_view.total == 120
            await submit_filter(pilot, db_app, "level = 'error' AND source LIKE '%api%'")
            assert db_app.log_view.total == 5  # errors every 8th record, api every 3rd: 24k + 5
            assert all(m.startswith("payment failed") for m in shown_messages(db_app))
            await submit_filter(pilot, db_app, "attempt=20")
            assert shown_messages(db_app) == ["user=bob action=login attempt=20"]
            await submit_filter(pilot, db_app, "/job 1[0-2] done/")
            assert shown_messages(db_app) == ["job 10 done"]
            await submit_filter(pilot, db_app, "levle = 'error'")
            error = db_app.filter_bar.query_one("#filter-error")
            assert "levle" in str(error.content) and error.has_class("-shown")
            assert db_app.log_view.total == 1  # a bad filter leaves the last good one in place
            await pilot.press("escape", "c")
            await settle(pilot)
            assert db_app.log_view.total == 120

    asyncio.run(scenario())


def test_level_toggles_and_time_range(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await pilot.press("3")  # hide info: 4 of every 8
            await settle(pilot)
            assert db_app.log_view.total == 60
            assert all(row.level != "info" for row in db_app.log_view.rows_on_screen())
            await pilot.press("9")  # hide records without a level: 1 of every 8
            await settle(pilot)
            assert db_app.log_view.total == 45
            await pilot.press("3")
            await settle(pilot)
            assert db_app.log_view.total == 105
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("t")
            db_app.filter_bar.query_one("#time-range", Input).value = "30s"
            await pilot.press("enter")
            await settle(pilot)
            assert db_app.log_view.total == 31  # the last 30 s of data, both ends included
            db_app.filter_bar.query_one(
                "#time-range", Input
            ).value = "2026-11-25T14:00:10..2026-11-25T14:00:19"
            db_app.filter_bar.query_one("#time-range", Input).focus()
            await pilot.press("enter")
            await settle(pilot)
            assert db_app.log_view.total == 10

    asyncio.run(scenario())


def test_source_toggles_hide_a_source(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await pilot.press("l")
            sources = db_app.query_one("#sources")
            assert sources.option_count == 3
            await pilot.press("space")  # the first source: /var/log/api.log
            await wait_for(pilot, lambda: db_app.log_view.total == 80)
            assert all(row.source != "/var/log/api.log" for row in db_app.log_view.rows_on_screen())

    asyncio.run(scenario())


def test_search_highlights_and_jumps_between_matches(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await pilot.press("slash")
            await type_into(pilot, "payment")
            await pilot.press("enter")
            await settle(pilot)
            view = db_app.log_view
            assert view.current_row().message == "payment failed order=117 reason=timeout"
            await pilot.press("N")
            await settle(pilot)
            assert view.current_row().message == "payment failed order=109 reason=timeout"
            assert not view.following  # jumping back pauses following
            await pilot.press("n")
            await settle(pilot)
            assert view.current_row().message == "payment failed order=117 reason=timeout"
            strip = view.render_line(view.cursor - int(view.scroll_y))
            highlighted = [
                seg.text for seg in strip if seg.style and seg.style.bgcolor and "payment" in seg.text
            ]
            assert highlighted == ["payment"]

    asyncio.run(scenario())


def test_following_pauses_on_scroll_back_and_resumes_on_end(tmp_path: Path) -> None:
    con, writer = make_db(tmp_path / "follow.duckdb", 120)
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            view = app.log_view
            assert view.following and view.current_row().id == 120
            await pilot.press("up", "up")
            assert not view.following and view.current_row().id == 118
            top_before = shown_messages(app)
            from test_tui_helpers import fixed_records

            more = fixed_records(130)[120:]
            for r in more:
                r.ts += 120_000_000
            writer.write(more)
            view.records_committed(writer.next_id - 1)
            await settle(pilot)
            assert view.total == 130
            assert shown_messages(app) == top_before  # paused: the screen stays put
            assert "paused" in str(app.query_one("#status").content)
            await pilot.press("end")
            assert view.following and view.current_row().id == 130
            assert view.rows_on_screen()[-1].id == 130
            held = view._window  # caught up by reading only the new ids: the same rows DuckDB orders there
            assert held == view.reader.page(view.state, view._window_start, len(held))

    asyncio.run(scenario())
    con.close()


def test_detail_view_shows_raw_fields_format_and_neighbours(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await submit_filter(pilot, db_app, "message = 'job 118 done'")
            await pilot.press("enter")
            await settle(pilot)
            screen = db_app.screen
            assert isinstance(screen, DetailScreen)
            fields = screen.query_one("#detail-fields").content.code
            assert '"duration_ms": 826' in fields and '"user": "bob"' in fields
            assert screen.query(".section")[1].content == "Fields (json)"
            assert screen.query_one("#detail-raw").content.plain.startswith('{"msg": "job 118 done"')
            neighbours = screen.query_one("#detail-neighbours").content.plain
            assert "job 115 done" in neighbours and "job 112 done" in neighbours  # same source only
            assert "attempt" not in neighbours
            await pilot.press("escape")
            assert not isinstance(db_app.screen, DetailScreen)

    asyncio.run(scenario())


@pytest.mark.slow
def test_sql_screen_shows_results_and_errors(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            screen = db_app.screen
            assert isinstance(screen, SqlScreen)
            await type_into(pilot, "SELECT source, count(*) AS n FROM logs GROUP BY 1 ORDER BY 1")
            await pilot.press("enter")
            await wait_for(pilot, lambda: not screen.running)
            table = screen.query_one(DataTable)
            assert [str(c.label) for c in table.columns.values()] == ["source", "n"]
            assert [table.get_row_at(i) for i in range(table.row_count)] == [
                ["/var/log/api.log", "40"],
                ["/var/log/worker.jsonl", "40"],
                ["stdin", "40"],
            ]
            await pilot.press("ctrl+a")
            screen.query_one(Input).value = "SELECT nope FROM logs"
            await pilot.press("enter")
            await wait_for(pilot, lambda: not screen.running)
            status = str(screen.query_one("#sql-status").content)
            assert "nope" in status and screen.query_one("#sql-status").has_class("-error")
            assert table.row_count == 0
            screen.query_one(Input).value = ""
            await pilot.press("up", "up")
            assert screen.query_one(Input).value.startswith("SELECT source")  # history
            await pilot.press("escape")
            assert not isinstance(db_app.screen, SqlScreen)

    asyncio.run(scenario())


def alert_row(alert_id: int, rule: str, example_ids: list[int], group_key: str = "") -> dict:
    at = START_US + 105_000_000
    return {
        "id": alert_id,
        "rule": rule,
        "kind": "threshold",
        "severity": "critical",
        "state": "firing",
        "group_key": group_key,
        "labels": {},
        "first_at": at,
        "fired_at": at,
        "last_at": at + 12_000_000,
        "resolved_at": None,
        "updated_at": at,
        "count": len(example_ids),
        "value": None,
        "summary": f"{len(example_ids)} payment errors in 1m",
        "example_ids": example_ids,
        "notifications": 1,
    }


def test_new_alert_appears_without_a_key_and_selecting_it_filters(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "alerts.duckdb")
    app = LogscopeApp(con, poll_seconds=0.1)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            panel_list = app.query_one("#alerts OptionList", OptionList)
            assert panel_list.option_count == 0
            write_alerts(con.cursor(), [alert_row(1, "error-storm", [102, 110, 118])])
            await wait_for(pilot, lambda: panel_list.option_count == 1)
            title = str(app.query_one("#alerts-title").content)
            assert "1 firing" in title
            assert "error-storm" in plain(panel_list.get_option_at_index(0).prompt)
            await pilot.press("a", "enter")
            await settle(pilot)
            assert app.log_view.total == 3
            assert [row.id for row in app.log_view.rows_on_screen()] == [102, 110, 118]
            assert "alert error-storm" in str(app.query_one("#status").content)

    asyncio.run(scenario())
    con.close()


def test_overview_and_help_and_palette(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await pilot.press("o")
            await settle(pilot)
            db_app.poll_now()
            chart = db_app.screen.query_one("#histogram")
            assert chart.histogram is not None
            assert sum(sum(c) for c in chart.histogram.counts.values()) == 120
            table = db_app.screen.query_one(DataTable)
            assert table.row_count == 3
            await pilot.press("escape", "question_mark")
            assert isinstance(db_app.screen, HelpScreen)
            await pilot.press("escape")
            titles = [c.title for c in db_app.get_system_commands(db_app.screen)]
            for title in ("Filter", "Search", "SQL", "Overview", "Follow", "Toggle level error", "Quit"):
                assert title in titles

    asyncio.run(scenario())


def test_relative_time_range_moves_with_the_newest_record(tmp_path: Path) -> None:
    con, writer = make_db(tmp_path / "window.duckdb", 120)
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("t")
            app.filter_bar.query_one("#time-range", Input).value = "9s"
            await pilot.press("enter")
            await settle(pilot)
            assert [row.id for row in app.log_view.rows_on_screen()] == list(range(111, 121))
            from test_tui_helpers import record

            writer.write([record(130, "stdin", "info", "ten seconds later")])
            app.log_view.records_committed(writer.next_id - 1)
            await settle(pilot)
            assert [row.message for row in app.log_view.rows_on_screen()] == ["ten seconds later"]

    asyncio.run(scenario())
    con.close()


def test_an_alert_without_example_records_filters_to_its_group(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "absence.duckdb")
    write_alerts(con.cursor(), [alert_row(7, "app_missing_heartbeat", [], "source=/var/log/worker.jsonl")])
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("a", "enter")
            await settle(pilot)
            assert app.log_view.total == 40
            assert {row.source for row in app.log_view.rows_on_screen()} == {"/var/log/worker.jsonl"}
            assert app.filter_bar.query_one("#filter", Input).value == "source = '/var/log/worker.jsonl'"

    asyncio.run(scenario())
    con.close()


def test_source_and_level_counts_follow_new_records_and_recount_after_deletes(tmp_path: Path) -> None:
    from test_tui_helpers import record

    from logscope.tui.filters import FilterState
    from logscope.tui.log_reader import LogReader, SourceCounts

    con, writer = make_db(tmp_path / "counts.duckdb")
    reader = LogReader(con)
    counts = SourceCounts()
    assert counts.read(reader) == {"/var/log/api.log": 40, "/var/log/worker.jsonl": 40, "stdin": 40}
    writer.write([record(200 + i, "udp://127.0.0.1:5514", "info", f"m{i}") for i in range(5)])
    assert counts.read(reader)["udp://127.0.0.1:5514"] == 5
    hide_info = FilterState(hidden_levels=frozenset({"info"}))
    assert counts.kept(reader, hide_info) == (reader.count(hide_info), writer.next_id - 1)
    assert counts.kept(reader, FilterState(predicate="true")) is None  # not a toggle: a scan
    con.execute("DELETE FROM logs WHERE source = 'stdin'")  # as retention would
    assert "stdin" not in counts.read(reader)  # a delete is seen at the next read: all recounted
    assert counts.kept(reader, hide_info) == (reader.count(hide_info), writer.next_id - 1)
    reader.close()
    con.close()


def test_clicking_a_line_selects_it_and_a_double_click_opens_it(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            view = db_app.log_view
            top = view.rows_on_screen()[0]
            await pilot.click("#log-view", offset=(5, 0))
            assert view.current_row() == top and not view.following
            await pilot.click("#log-view", offset=(5, 1), times=2)
            await settle(pilot)
            assert isinstance(db_app.screen, DetailScreen)
            assert db_app.screen.record["id"] == top.id + 1

    asyncio.run(scenario())


def test_following_keeps_time_order_when_a_late_record_arrives(tmp_path: Path) -> None:
    from test_tui_helpers import record

    con, writer = make_db(tmp_path / "order.duckdb", 120)
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            view = app.log_view
            writer.write(
                [record(150, "stdin", "info", "newest"), record(151, "stdin", "info", "newer still")]
            )
            view.records_committed(writer.next_id - 1)
            await settle(pilot)
            assert shown_messages(app)[-2:] == ["newest", "newer still"]
            appended = view._window
            assert appended == view.reader.page(view.state, view.total - len(appended), len(appended))
            writer.write([record(60, "stdin", "warning", "late arrival from the past")])
            view.records_committed(writer.next_id - 1)
            await settle(pilot)
            assert shown_messages(app)[-2:] == ["newest", "newer still"]
            assert view.total == 123
            expected = view.reader.page(view.state, view.total - len(view._window), len(view._window))
            assert view._window == expected  # what is held is exactly what DuckDB orders there

    asyncio.run(scenario())
    con.close()


def test_a_filter_that_fails_only_when_it_runs_shows_the_error(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await submit_filter(pilot, db_app, "CAST(message AS INTEGER) > 3")
            error = db_app.filter_bar.query_one("#filter-error")
            assert "Conversion Error" in str(error.content) and error.has_class("-shown")
            assert not db_app.log_view.filtering
            await pilot.press("escape", "end")
            await settle(pilot)
            assert db_app.log_view.following

    asyncio.run(scenario())


def palette_shows(app: LogscopeApp, title: str) -> bool:
    """The command palette's highlighted entry is `title`."""
    from textual.command import CommandList

    commands = app.screen.query(CommandList)
    if not commands or commands.first().highlighted is None:
        return False
    option = commands.first().get_option_at_index(commands.first().highlighted)
    return str(option.prompt).splitlines()[0].strip() == title


@pytest.mark.slow
def test_the_command_palette_runs_actions(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p")
            await type_into(pilot, "Toggle level error")
            await wait_for(pilot, lambda: palette_shows(db_app, "Toggle level error"))
            await pilot.press("enter")
            await settle(pilot)
            assert "error" in db_app.filter_state.hidden_levels
            assert db_app.log_view.total == 105
            await pilot.press("ctrl+p")
            await type_into(pilot, "SQL")
            await wait_for(pilot, lambda: palette_shows(db_app, "SQL"))
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(db_app.screen, SqlScreen)

    asyncio.run(scenario())


def test_a_search_typed_while_a_filter_loads_jumps_once_it_is_shown(db_app: LogscopeApp) -> None:
    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            db_app.apply_filter(db_app.filter_state.with_changes(hidden_levels=frozenset({"debug"})))
            db_app.log_view.set_search(text_match("order=101"))
            await settle(pilot)
            assert db_app.log_view.total == 105
            assert db_app.log_view.current_row().message == "payment failed order=101 reason=timeout"

    asyncio.run(scenario())


def test_a_snapshot_arriving_before_the_overview_is_composed_waits_for_the_next(db_app: LogscopeApp) -> None:
    """A poll's snapshot read before `o` may be applied while the overview is pushed but its
    widgets are not there yet: it is left for the next poll, not raised (NoMatches)."""

    async def scenario() -> None:
        async with db_app.run_test(size=SIZE) as pilot:
            db_app.push_screen("overview")
            overview = db_app.screen
            assert isinstance(overview, OverviewScreen) and not overview.query("#histogram")
            overview.show_histogram(None, [], [])
            overview.show_sources([], None, 0)
            assert db_app._histogram_request() is None
            await settle(pilot)
            db_app.poll_now()
            chart = db_app.screen.query_one("#histogram")
            assert sum(sum(c) for c in chart.histogram.counts.values()) == 120

    asyncio.run(scenario())
