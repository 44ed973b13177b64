"""Filters as typed (bare field names, plain errors), searches that count, an alerts panel that
stays put: the logic, through Textual's pilot and a real DuckDB."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest
from test_tui import alert_row, wait_for
from test_tui_helpers import SIZE, START_US, make_db, plain, settle
from textual.widgets import Input, OptionList

from logscope.store.alerts import write_alerts
from logscope.tui.app import LogscopeApp
from logscope.tui.filters import FilterError
from logscope.tui.log_search import search_place
from logscope.tui.predicate import check_balanced, with_typed_fields


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("level IN ('error', 'warn'", "1 '(' not closed: a ')' is missing"),
        ("level = 'error", "a quote is not closed: 'error…"),
        ("level = 'error')", "a ')' has no '(' before it"),
        ("lower(level = 'x'", "1 '(' not closed: a ')' is missing"),
    ],
)
def test_unbalanced_filters_are_told_in_the_users_words(text: str, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        check_balanced(text)
    assert str(caught.value) == message


def test_bare_field_names_read_the_records_fields_typed_by_their_format() -> None:
    con = duckdb.connect()
    types = {"status": "BIGINT", "user": "VARCHAR"}
    sql, names = with_typed_fields(con, "status >= 500 AND abs(status) < 600", types)
    assert names == ["status"]
    assert sql == (
        "TRY_CAST(json_extract_string(fields, '$.\"status\"') AS BIGINT) >= 500"
        " AND abs(TRY_CAST(json_extract_string(fields, '$.\"status\"') AS BIGINT)) < 600"
    )
    # Names in strings, columns of logs and function names stay as they are.
    assert with_typed_fields(con, "message = 'status' AND level = 'error'", types) == (
        "message = 'status' AND level = 'error'",
        [],
    )
    # Untyped names are fields too when the text is plainly SQL, else left (`user=bob` is text).
    assert with_typed_fields(con, "service = 'cart'", types)[1] == ["service"]
    assert with_typed_fields(con, "user=bob", types, untyped=False)[1] == ["user"]
    con.close()


async def submit(pilot, app: LogscopeApp, text: str) -> None:
    await pilot.press("f")
    app.filter_bar.query_one("#filter", Input).value = text
    await pilot.press("enter")
    await settle(pilot)


@pytest.mark.slow
def test_a_typed_field_filter_a_text_filter_and_escape_back_to_the_active_one(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "typed.duckdb")
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await submit(pilot, app, "duration_ms > 800")  # a JSON key the fixture's records carry
            assert app.log_view.total == sum(1 for i in range(120) if i % 3 == 1 and i * 7 > 800)
            assert "where duration_ms > 800" in str(app.query_one("#status").content)
            kept = app.log_view.total
            await submit(pilot, app, "level IN ('error', 'warn'")
            error = str(app.query_one("#filter-error").content)
            assert error == "1 '(' not closed: a ')' is missing"
            assert app.log_view.total == kept  # the last filter stays
            await pilot.press("escape")
            await pilot.pause()
            assert app.filter_bar.query_one("#filter", Input).value == "duration_ms > 800"
            assert str(app.query_one("#filter-error").content) == ""
            await submit(pilot, app, "user=bob")  # no SQL: a text filter, not a field comparison
            assert app.filter_state.text is not None and app.filter_state.predicate is None
            assert app.log_view.total > 0

    asyncio.run(scenario())
    con.close()


def test_search_counts_its_matches_and_stops_at_the_last(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "search.duckdb")
    app = LogscopeApp(con, poll_seconds=0)
    results = []

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            app.log_view.post_message = lambda message, post=app.log_view.post_message: (
                results.append(message) if isinstance(message, app.log_view.SearchResult) else None,
                post(message),
            )[1]
            await pilot.press("slash", *"payment", "enter")
            await settle(pilot)
            hits = sum(1 for i in range(120) if i % 8 == 5)
            assert app.log_view.search_place == (hits, hits)  # following: the newest match
            assert f"search: payment ({hits}/{hits})" in str(app.query_one("#status").content)
            cursor = app.log_view.cursor
            await pilot.press("n")
            await settle(pilot)
            assert app.log_view.cursor == cursor  # no turning back to the first
            assert results[-1].hits == hits and not results[-1].found and results[-1].forward
            await pilot.press("N")
            await settle(pilot)
            assert app.log_view.search_place == (hits - 1, hits)
            assert app.log_view.cursor < cursor

    asyncio.run(scenario())
    con.close()
    assert search_place((None, 0)) == " (no match)"


def test_the_alerts_panel_keeps_its_order_and_the_highlighted_alert(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "panel.duckdb")
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            first, second = alert_row(1, "first_rule", [3]), alert_row(2, "second_rule", [6, 9])
            second["fired_at"] = first["fired_at"] + 1_000_000
            second["summary"] = "2 errors in 1m in /var/log/api.log"
            write_alerts(con.cursor(), [first, second])
            app.poll_now()
            panel = app.query_one("#alerts OptionList", OptionList)
            await wait_for(pilot, lambda: panel.option_count == 2)
            assert "second_rule" in plain(panel.get_option_at_index(0).prompt)
            shown = plain(panel.get_option_at_index(0).prompt, width=30)
            assert "CRIT second_rule ×2" in shown
            assert "  2 errors in 1m in api.log" in shown  # indented; the source by its name
            panel.highlighted = 1
            option = panel.get_option_at_index(1)
            first["last_at"] += 60_000_000  # the first matches again: the list does not move
            first["count"] = 5
            write_alerts(con.cursor(), [first])
            app.poll_now()
            await pilot.pause()
            assert "first_rule ×5" in plain(panel.get_option_at_index(1).prompt)
            assert panel.get_option_at_index(1) is option  # its prompt replaced, the list not rebuilt
            assert panel.highlighted == 1
            await pilot.press("a", "enter")
            await settle(pilot)
            assert "alert first_rule: 1 record" in str(app.query_one("#status").content)

    asyncio.run(scenario())
    con.close()


def test_e_and_w_jump_to_errors_and_warnings_as_in_lnav(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "levels.duckdb")  # errors at 5, 13, … 117; warnings at 3, 11, … 115
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            view = app.log_view
            assert view.cursor == 119
            for key, expected in (("E", 117), ("E", 109), ("e", 117), ("W", 115), ("W", 107), ("w", 115)):
                await pilot.press(key)
                await settle(pilot)
                assert view.cursor == expected, key
                assert view.current_row().level in ("error", "warning")
            await pilot.press("e")  # no error after 117: the cursor stays
            await settle(pilot)
            assert view.cursor == 117

    asyncio.run(scenario())
    con.close()


@pytest.mark.slow
def test_filter_search_and_sql_history_is_kept_across_runs(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "history.duckdb")
    path = tmp_path / "state" / "history.json"

    async def first_run() -> None:
        app = LogscopeApp(con, poll_seconds=0, history_path=path)
        async with app.run_test(size=SIZE) as pilot:
            await submit(pilot, app, "level = 'error'")
            await pilot.press("slash", *"payment", "enter")
            await settle(pilot)

    async def second_run() -> None:
        app = LogscopeApp(con, poll_seconds=0, history_path=path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f", "up")
            assert app.filter_bar.query_one("#filter", Input).value == "level = 'error'"
            await pilot.press("escape", "slash", "up")
            assert app.filter_bar.query_one("#search", Input).value == "payment"

    asyncio.run(first_run())
    asyncio.run(second_run())
    con.close()


def test_goto_reads_clock_times_dates_steps_and_day_words() -> None:
    from datetime import UTC

    from logscope.tui.goto import goto_time

    reference = START_US + 3_600_000_000  # 2026-11-25T15:00:00Z
    minute = 60_000_000
    assert goto_time("14:05", reference, UTC) == START_US + 5 * minute
    assert goto_time("2026-11-25 14:05", reference, UTC) == START_US + 5 * minute
    assert goto_time("-1h", reference, UTC) == START_US
    assert goto_time("+15m", reference, UTC) == reference + 15 * minute
    assert goto_time("yesterday 14:00", reference, UTC) == START_US - 86_400_000_000
    with pytest.raises(FilterError, match="try 14:05"):
        goto_time("teatime", reference, UTC)


@pytest.mark.slow
def test_ctrl_g_moves_the_cursor_to_the_first_record_at_that_time(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "goto.duckdb")  # one record a second from 14:00:00
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+g", *"14:01:05", "enter")
            await settle(pilot)
            assert app.log_view.cursor == 65
            assert not app.log_view.following
            await pilot.press("ctrl+g", *"-30s", "enter")
            await settle(pilot)
            assert app.log_view.cursor == 35

    asyncio.run(scenario())
    con.close()


def test_the_error_chart_marks_alerts_in_the_bucket_they_fired(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "chart.duckdb")  # errors every 8th second from 14:00:05
    at = START_US + 60_000_000  # 14:01:00
    alert = alert_row(1, "error_storm", [61])
    alert["fired_at"] = at
    write_alerts(con.cursor(), [alert])
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("o")
            await pilot.pause()
            app.poll_now()
            await pilot.pause()
            chart = app.screen.query_one("#error-rate")
            histogram = chart.histogram
            lines = chart.render().plain.splitlines()
            markers = next(line for line in lines if "└" in line)
            bucket = (at - histogram.start_us) // histogram.bucket_us
            assert markers.index("▲") == markers.index("└") + 1 + bucket
            assert markers.count("▲") == 1
            assert "error_storm 14:01:00" in lines[-1]
            top = lines[0]
            peak = max(
                sum(
                    histogram.counts.get(level, [0] * histogram.buckets)[i] for level in ("error", "critical")
                )
                for i in range(histogram.buckets)
            )
            assert top.strip().startswith(f"{peak}│")

    asyncio.run(scenario())
    con.close()


def test_m_marks_lines_and_u_goes_between_the_marks(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "marks.duckdb")
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            view = app.log_view
            await pilot.press("k", "k", "m")  # mark 117
            await pilot.press(*["k"] * 10, "m")  # and 107
            await pilot.pause()
            assert set(view.lines.marks) == {
                row.id
                for row in view.rows_on_screen()
                if row.ts in {START_US + 117_000_000, START_US + 107_000_000}
            }
            strip = view.render_line(view.cursor - int(view.scroll_y))
            assert "reverse" in str(strip._segments[0].style)  # the marked line's time
            await pilot.press("G", "U")
            await settle(pilot)
            assert view.cursor == 117
            await pilot.press("U")
            await settle(pilot)
            assert view.cursor == 107
            await pilot.press("u")
            await settle(pilot)
            assert view.cursor == 117
            await pilot.press("m")  # unmark 117
            await pilot.press("u")
            await settle(pilot)
            assert view.cursor == 117 and set(view.lines.marks) == {108}

    asyncio.run(scenario())
    con.close()


@pytest.mark.slow
def test_enter_on_a_bucket_of_the_error_chart_goes_to_its_first_record(tmp_path: Path) -> None:
    con, _ = make_db(tmp_path / "bucket.duckdb")
    app = LogscopeApp(con, poll_seconds=0)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("o")
            await pilot.pause()
            app.poll_now()
            await pilot.pause()
            chart = app.screen.query_one("#error-rate")
            assert app.screen.focused is chart
            await pilot.press("right", *["left"] * 40, "enter")
            await settle(pilot)
            start = chart.histogram.start_us + chart.picked * chart.histogram.bucket_us
            assert app.screen is app.main
            view = app.log_view
            assert view.current_row().ts >= start
            assert view.cursor == 0 or view._row(view.cursor - 1).ts < start
            assert not view.following

    asyncio.run(scenario())
    con.close()
