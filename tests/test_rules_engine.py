"""The rule engine on real records and a real DuckDB store: every kind, windows, the life cycle."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from logscope.alerting import engine as engine_module
from logscope.alerting import runner as runner_module
from logscope.alerting.counting import Shortcuts, fast
from logscope.alerting.engine import RuleEngine
from logscope.alerting.lifecycle import Change
from logscope.alerting.loader import load_paths
from logscope.alerting.priority import NICER
from logscope.record import Record
from logscope.store.database import MEMORY, open_for_writing
from logscope.store.writer import LogWriter

S = 1_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def record(at: float, message: str = "x", level: str | None = "info", **fields) -> Record:
    """A record at `at` seconds after T0."""
    return Record(T0 + int(at * S), T0, "app.log", "web1", "json", level, message, fields or None, message)


class Harness:
    """Rules from TOML text, an in-memory store, and every change the engine reports."""

    def __init__(
        self, tmp_path: Path, toml: str, *, threaded: bool = False, shortcuts: Shortcuts = Shortcuts.ALL
    ) -> None:
        path = tmp_path / "rules.toml"
        path.write_text(toml)
        ruleset = load_paths([str(path)])
        assert not ruleset.problems, ruleset.problems
        self.con = open_for_writing(MEMORY)
        self.writer = LogWriter(self.con)
        self.errors: list[str] = []
        self.engine = RuleEngine(
            ruleset, store=self.con, on_error=self.errors.append, threaded=threaded, shortcuts=shortcuts
        )
        self.changes: list[Change] = []
        self.engine.subscribe(self.changes.extend)

    def feed(self, *records: Record) -> None:
        self.writer.write(list(records))
        self.engine.on_records(list(records))

    def advance(self, at: float) -> None:
        self.engine.advance(T0 + int(at * S))

    def events(self, *kinds: str) -> list[tuple[str, str, float, dict]]:
        """(rule, event, seconds after T0, group) for notifications (or the given kinds)."""
        wanted = set(kinds) or {"firing", "renotify", "resolved"}
        return [
            (c.alert.rule.name, c.event, (c.at - T0) / S, c.payload["group"])
            for c in self.changes
            if c.event in wanted
        ]

    def close(self) -> None:
        self.engine.close()
        self.con.close()


@pytest.fixture
def harness(tmp_path: Path):
    made: list[Harness] = []

    def make(toml: str) -> Harness:
        made.append(Harness(tmp_path, toml))
        return made[-1]

    yield make
    for item in made:
        item.close()


THRESHOLD = """
[[rule]]
name = "errors"
kind = "threshold"
where = "level = 'error'"
window = "10s"
threshold = 3
"""


def test_threshold_counts_inside_the_window_only(harness) -> None:
    h = harness(THRESHOLD)
    # Records at 0 and 5 s, then at 10 s: the one at 0 s has left the window (t - 10 s, t].
    h.feed(record(0, level="error"), record(5, level="error"), record(10, level="error"))
    assert h.events() == []
    h.feed(record(14.999, level="error"))
    assert h.events() == [("errors", "firing", 14.999, {})]
    # 5 s leaves at 15 s, leaving 10 and 14.999: below 3, resolved exactly then.
    h.advance(60)
    assert h.events() == [("errors", "firing", 14.999, {}), ("errors", "resolved", 15.0, {})]


def test_threshold_ignores_records_that_do_not_match(harness) -> None:
    h = harness(THRESHOLD)
    h.feed(*[record(i, level="info") for i in range(10)])
    h.advance(100)
    assert h.changes == []


def test_for_makes_an_alert_pending_first_and_cancels_if_it_stops(harness) -> None:
    h = harness(THRESHOLD + 'for = "5s"\n')
    h.feed(*[record(i, level="error") for i in range(3)])  # holds from 2 s
    h.advance(6.9)
    assert h.events("pending", "firing") == [("errors", "pending", 2.0, {})]
    h.advance(7)
    assert h.events("firing") == [("errors", "firing", 7.0, {})]

    h2 = harness(THRESHOLD.replace('"errors"', '"short"') + 'for = "20s"\n')
    h2.feed(*[record(i, level="error") for i in range(3)])
    h2.advance(60)  # the condition stops at 10 s, before `for` ran out
    assert h2.events("pending", "cancelled", "firing") == [
        ("short", "pending", 2.0, {}),
        ("short", "cancelled", 10.0, {}),
    ]
    stored = h2.con.execute("SELECT count(*) FROM alerts").fetchall()[0][0]
    assert stored == 0


def test_dedup_one_alert_per_group_and_renotify_after_the_interval(harness) -> None:
    h = harness(
        """
[[rule]]
name = "failures"
kind = "match"
where = "message = 'failed'"
group_by = ["user"]
window = "1m"
renotify = "30s"
"""
    )
    # alice fails every 5 s for 70 s; bob once.
    h.feed(*[record(i * 5, "failed", user="alice") for i in range(15)], record(3, "failed", user="bob"))
    h.advance(300)
    alice = [(event, at) for rule, event, at, group in h.events() if group == {"user": "alice"}]
    bob = [(event, at) for rule, event, at, group in h.events() if group == {"user": "bob"}]
    # Still firing while records keep coming and for a window after the last (70 s + 1 m).
    renotified = [("renotify", 30.0), ("renotify", 60.0), ("renotify", 90.0), ("renotify", 120.0)]
    assert alice == [("firing", 0.0), *renotified, ("resolved", 130.0)]
    # Due again at 63 s, the instant it resolves: resolving wins, no re-notification then.
    assert bob == [("firing", 3.0), ("renotify", 33.0), ("resolved", 63.0)]
    rows = h.con.execute(
        "SELECT group_key, state, count, notifications FROM alerts ORDER BY group_key"
    ).fetchall()
    assert rows == [("user=alice", "resolved", 15, 5), ("user=bob", "resolved", 1, 2)]


def test_group_by_keeps_groups_apart(harness) -> None:
    h = harness(THRESHOLD.replace("threshold = 3", 'threshold = 2\ngroup_by = ["service"]'))
    h.feed(record(0, level="error", service="api"), record(1, level="error", service="db"))
    assert h.events() == []
    h.feed(record(2, level="error", service="api"))
    assert h.events() == [("errors", "firing", 2.0, {"service": "api"})]


def test_ratio_needs_the_share_and_the_minimum_total(harness) -> None:
    h = harness(
        """
[[rule]]
name = "bad_share"
kind = "ratio"
where = "status >= 500"
total = "status IS NOT NULL"
fields = { status = "INTEGER" }
window = "1m"
ratio = 0.25
min_total = 8
"""
    )
    statuses = [200, 200, 500, 200, 200, 200, 500, 200]  # 2 of 8 = 25 % at the 8th, 7 s
    h.feed(*[record(i, status=s) for i, s in enumerate(statuses)])
    assert h.events() == [("bad_share", "firing", 7.0, {})]
    change = next(c for c in h.changes if c.event == "firing")
    assert change.payload["value"] == pytest.approx(0.25)
    h.feed(record(8, status=200))  # 2 of 9 < 25 %
    assert h.events()[-1] == ("bad_share", "resolved", 8.0, {})


def test_spike_compares_with_the_window_before_and_waits_for_two_windows(harness) -> None:
    h = harness(
        """
[[rule]]
name = "burst"
kind = "spike"
where = "level = 'error'"
window = "10s"
factor = 3
min_count = 6
"""
    )
    # 2 errors in each 10 s window for 30 s, then 6 in the window [30, 35].
    steady = [record(t, level="error") for t in (1, 6, 11, 16, 21, 26)]
    h.feed(record(0, level="info"), *steady)
    h.feed(*[record(30 + i, level="error") for i in range(6)])
    # At 35 s the window (25, 35] holds 26 s and 30..35 s = 7; the one before (15, 25] holds 2.
    firing = h.events("firing")
    assert firing == [("burst", "firing", 34.0, {})]  # at 34 s: 26 + 30..34 = 6 >= 6 and >= 3 x 2
    # A spike right at the start (no window before seen yet) does not fire.
    h2 = harness(
        """
[[rule]]
name = "early"
kind = "spike"
where = "true"
window = "10s"
factor = 2
min_count = 3
"""
    )
    h2.feed(*[record(i * 0.1) for i in range(50)])
    assert h2.events("firing") == []


def test_absence_fires_when_a_heartbeat_stops_and_resolves_when_it_returns(harness) -> None:
    h = harness(
        """
[[rule]]
name = "heartbeat"
kind = "absence"
where = "message = 'beat'"
group_by = ["worker"]
window = "30s"
"""
    )
    h.feed(*[record(i * 10, "beat", worker="w1") for i in range(4)])  # last beat at 30 s
    h.feed(*[record(i * 10, "beat", worker="w2") for i in range(8)])  # w2 keeps beating to 70 s
    h.advance(75)
    assert h.events() == [("heartbeat", "firing", 60.0, {"worker": "w1"})]
    h.feed(record(80, "beat", worker="w1"))
    assert h.events()[-1] == ("heartbeat", "resolved", 80.0, {"worker": "w1"})


def test_absence_without_groups_fires_when_nothing_matches_from_the_start(harness) -> None:
    h = harness(
        """
[[rule]]
name = "no_orders"
kind = "absence"
where = "message = 'order placed'"
window = "1m"
threshold = 2
"""
    )
    h.feed(record(0, "startup"), record(30, "order placed"))
    h.advance(59)
    assert h.events() == []
    h.advance(61)  # the first full window (0, 60] held one order, fewer than 2
    assert h.events() == [("no_orders", "firing", 60.0, {})]


def test_new_value_fires_once_per_value_after_learning(harness) -> None:
    h = harness(
        """
[[rule]]
name = "new_client"
kind = "new_value"
field = "client"
learn = "1m"
window = "5m"
"""
    )
    h.feed(record(0, client="10.0.0.1"), record(30, client="10.0.0.2"))  # learned
    h.feed(record(90, client="10.0.0.1"), record(120, client="10.0.0.3"), record(150, client="10.0.0.3"))
    h.feed(record(600, client="10.0.0.3"))  # known by now: no second alert
    h.advance(1000)
    assert h.events() == [
        ("new_client", "firing", 120.0, {"client": "10.0.0.3"}),
        ("new_client", "resolved", 450.0, {"client": "10.0.0.3"}),
    ]


def test_sql_rule_runs_every_interval_over_stored_records(harness) -> None:
    h = harness(
        """
[[rule]]
name = "noisy_host"
kind = "sql"
query = "SELECT host, count(*) AS count FROM logs GROUP BY host HAVING count(*) >= 5"
interval = "10s"
lookback = "30s"
group_by = ["host"]
summary = "{host} logged {count} lines"
"""
    )
    h.feed(*[record(i) for i in range(3)])
    h.feed(*[record(3 + i * 0.5) for i in range(6)])  # 9 records by 5.5 s
    h.advance(10)
    assert h.events() == [("noisy_host", "firing", 10.0, {"host": "web1"})]
    assert h.changes[-1].payload["summary"] == "web1 logged 9 lines"
    h.advance(60)  # at 40 s the 30 s lookback is empty: resolved
    assert h.events()[-1] == ("noisy_host", "resolved", 40.0, {"host": "web1"})


def test_a_failing_rule_is_reported_and_disabled_while_others_keep_running(harness) -> None:
    h = harness(
        THRESHOLD
        + """
[[rule]]
name = "broken"
kind = "match"
where = "CAST(message AS INTEGER) > 3"
"""
    )
    h.feed(*[record(i, "not a number", level="error") for i in range(3)])
    assert [name for name, *_ in h.events()] == ["errors"]
    assert len(h.errors) == 1
    assert "rule 'broken' failed and is disabled" in h.errors[0]
    assert "Conversion Error" in h.errors[0]
    assert "broken" in h.engine.disabled
    h.feed(*[record(20 + i, "still not a number", level="error") for i in range(3)])
    assert len(h.errors) == 1
    assert [event for _, event, *_ in h.events()] == ["firing", "resolved", "firing"]


def test_threaded_engine_computing_predicates_ahead_gives_the_same_alerts(
    tmp_path: Path, monkeypatch
) -> None:
    # Batches queue up behind the engine's thread, which computes the next batch's predicates
    # while it steps through this one (one queued batch at a time here: none are merged); a rule
    # that fails is disabled between batches, and the batch after it, computed ahead with the
    # failed rule still in, is computed again without it.
    monkeypatch.setattr(runner_module, "MERGE_RECORDS", 1)
    rules = (
        """
[[rule]]
name = "broken"
kind = "match"
where = "CAST(message AS INTEGER) > 3"
"""
        + THRESHOLD
    )
    batches = [
        [record(b * 4 + i, "not a number" if b == 3 else "7", level="info") for i in range(4)]
        for b in range(12)
    ]
    results = []
    for threaded in (False, True):
        h = Harness(tmp_path, rules, threaded=threaded)
        for batch in batches:
            h.feed(*batch)
        h.engine.close()
        results.append((h.events(), h.errors, dict(h.engine.disabled)))
        h.con.close()
    assert results[0] == results[1]
    events, errors, disabled = results[1]
    assert ("broken", "firing", 0.0, {}) in events
    assert len(errors) == 1 and list(disabled) == ["broken"]


@pytest.mark.skipif(sys.platform != "linux", reason="CPU priority per thread is Linux's")
@pytest.mark.skipif(os.getpriority(os.PRIO_PROCESS, 0) + NICER > 19, reason="already too nice")
def test_a_low_priority_engine_evaluates_in_threads_at_a_lower_cpu_priority(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(THRESHOLD)
    ruleset = load_paths([str(path)])
    priorities = {}
    for low in (False, True):
        engine = RuleEngine(ruleset, threaded=True, low_priority=low)
        seen: list[int] = []
        engine.subscribe(lambda changes, seen=seen: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
        engine.on_records([record(i, level="error") for i in range(3)])  # fires: the thread publishes
        engine.close()
        priorities[low] = seen
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert priorities == {False: [own], True: [own + NICER]}


@pytest.mark.slow
def test_results_do_not_depend_on_how_records_are_batched(tmp_path: Path) -> None:
    rules = THRESHOLD + 'for = "3s"\nrenotify = "4s"\ngroup_by = ["service"]\n'
    stream = [record(i * 0.7, level="error" if i % 3 else "info", service=f"s{i % 2}") for i in range(60)]
    one = Harness(tmp_path, rules)
    one.feed(*stream)
    one.advance(100)
    many = Harness(tmp_path, rules)
    for item in stream:
        many.feed(item)
    many.advance(100)
    assert one.events() == many.events()
    assert [c.payload for c in one.changes] == [c.payload for c in many.changes]
    assert len(one.events()) > 4
    one.close()
    many.close()


def test_late_records_count_at_the_group_clock(harness) -> None:
    h = harness(THRESHOLD)
    h.feed(record(100, level="error"), record(101, level="error"))
    h.feed(record(50, level="error"))  # late: counted at 101 s, not lost
    assert h.events() == [("errors", "firing", 101.0, {})]


def test_alerts_table_keeps_state_times_and_example_ids(harness) -> None:
    h = harness(THRESHOLD + 'summary = "{count} errors in {window}"\nlabels = { team = "api" }\n')
    h.feed(*[record(i, level="error") for i in range(4)])
    row = h.con.execute(
        "SELECT rule, kind, severity, state, labels->>'team', epoch(first_at) - epoch(make_timestamptz(?)),"
        " count, summary, example_ids FROM alerts",
        [T0],
    ).fetchall()
    assert row == [
        ("errors", "threshold", "warning", "firing", "api", 2.0, 4, "4 errors in 10s", [1, 2, 3, 4])
    ]


ERRORS_BY_SERVICE = 'where = "level = \'error\'"\ngroup_by = ["service"]\n'


@pytest.mark.parametrize(
    "rule",
    [
        f'kind = "spike"\n{ERRORS_BY_SERVICE}window = "5s"\nfactor = 2\nmin_count = 3',
        f'kind = "ratio"\n{ERRORS_BY_SERVICE}window = "5s"\nratio = 0.5\nmin_total = 4',
        f'kind = "absence"\n{ERRORS_BY_SERVICE}window = "3s"\nthreshold = 2',
        'kind = "new_value"\nfield = "code"\nwindow = "4s"\nlearn = "5s"',
    ],
)
@pytest.mark.slow
def test_every_kind_gives_the_same_alerts_however_records_are_batched(tmp_path: Path, rule: str) -> None:
    rules = f'[[rule]]\nname = "r"\nfor = "1s"\nrenotify = "3s"\n{rule}\n'
    stream = []
    for i in range(120):
        burst = 40 <= i < 60 or 90 <= i < 95  # a stretch where service s0 logs errors fast
        level = "error" if burst or i % 4 == 0 else "info"
        stream.append(
            record(i * 0.5, level=level, service=f"s{i % 2 if not burst else 0}", code=str(i % 7 + i // 50))
        )
    one = Harness(tmp_path, rules)
    one.feed(*stream)
    one.advance(100)
    many = Harness(tmp_path, rules)
    for begin in range(0, len(stream), 7):
        many.feed(*stream[begin : begin + 7])
    many.advance(100)
    assert one.events() == many.events()
    assert one.events(), "the stream should raise at least one alert"
    # Every change in full (alert ids, counts, summaries, example ids, times) and the alerts table.
    assert [c.payload for c in one.changes] == [c.payload for c in many.changes]
    table = "FROM alerts ORDER BY id"
    assert one.con.sql(table).fetchall() == many.con.sql(table).fetchall()
    one.close()
    many.close()


def test_for_that_runs_out_the_instant_the_condition_stops_does_not_fire(harness) -> None:
    h = harness(THRESHOLD + 'for = "8s"\n')
    h.feed(*[record(i, level="error") for i in range(3)])  # holds from 2 s to 10 s exactly
    h.advance(30)
    assert h.events("pending", "firing", "cancelled") == [
        ("errors", "pending", 2.0, {}),
        ("errors", "cancelled", 10.0, {}),
    ]


def test_the_live_clock_fires_absence_when_nothing_arrives_at_all(harness) -> None:
    import time

    from logscope.record import now_us

    h = harness('[[rule]]\nname = "quiet"\nkind = "absence"\nwhere = "true"\nwindow = "1s"\n')
    now = now_us()
    h.engine.on_records([Record(now, now, "s", None, "json", "info", "hello", None, "hello")])
    h.engine.start_clock(0.05)
    deadline = time.monotonic() + 5
    while not h.events() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(rule, event) for rule, event, *_ in h.events()] == [("quiet", "firing")]
    fired_at = h.changes[-1].at
    assert now + S <= fired_at <= now + 3 * S


def test_a_failing_sql_rule_is_disabled_and_the_others_keep_running(harness) -> None:
    h = harness(
        THRESHOLD
        + """
[[rule]]
name = "bad_cast"
kind = "sql"
query = "SELECT CAST(message AS INTEGER) AS n FROM logs"
interval = "5s"
"""
    )
    h.feed(*[record(i, "not a number", level="error") for i in range(12)])
    h.advance(20)  # the first run is at the first 5 s boundary after the engine started: 15 s
    assert "bad_cast" in h.engine.disabled
    assert len(h.errors) == 1
    assert "rule 'bad_cast' failed and is disabled: Conversion Error" in h.errors[0]
    assert [(name, event) for name, event, *_ in h.events()] == [("errors", "firing"), ("errors", "resolved")]
    h.advance(60)
    assert len(h.errors) == 1


def test_sql_rules_can_watch_the_stats_table(harness) -> None:
    h = harness(
        """
[[rule]]
name = "stalled_source"
kind = "sql"
query = '''SELECT source FROM stats WHERE ts > now() - INTERVAL 1 MINUTE
           GROUP BY source HAVING max(lines) = min(lines)'''
interval = "10s"
group_by = ["source"]
summary = "{source} stopped delivering"
"""
    )
    insert = "INSERT INTO stats VALUES (now() - INTERVAL (?) SECOND, 1, ?, ?, 0, 0, 0, 0, 0, 0, false)"
    for ago, source, lines in [
        (30, "stuck.log", 100),
        (5, "stuck.log", 100),
        (30, "busy.log", 5),
        (5, "busy.log", 90),
    ]:
        h.con.execute(insert, [ago, source, lines])
    h.feed(record(0))
    h.advance(25)
    assert h.events() == [("stalled_source", "firing", 10.0, {"source": "stuck.log"})]
    assert h.changes[-1].payload["summary"] == "stuck.log stopped delivering"


@pytest.mark.parametrize(
    "rule",
    [
        'kind = "ratio"\nwhere = "level = \'error\'"\ntotal = "true"\nwindow = "60s"\n'
        "ratio = 0.3\nmin_total = 10",
        'kind = "absence"\nwhere = "level = \'error\'"\nwindow = "20s"',
    ],
)
def test_bounds_that_skip_stretches_give_the_alerts_of_stepping_through_them(
    tmp_path: Path, rule: str
) -> None:
    # Errors are 10% of 1,200 records at 0.5 s, but 60% for a while in the middle, and none for
    # a while later: each kind's condition holds only briefly, inside one large batch.
    stream = []
    for i in range(1200):
        share = 6 if 500 <= i < 560 else 0 if 800 <= i < 900 else 1
        stream.append(record(i * 0.5, level="error" if i % 10 < share else "info"))
    results = []
    for shortcuts in (Shortcuts.ALL, Shortcuts(bounds=False)):
        h = Harness(tmp_path, f'[[rule]]\nname = "r"\n{rule}\n', shortcuts=shortcuts)
        h.feed(*stream)
        h.advance(700)
        results.append([(c.event, c.at, c.payload["count"], c.payload["value"]) for c in h.changes])
        h.close()
    assert results[0] == results[1]
    assert [event for event, *_ in results[0]].count("firing") >= 1


@pytest.mark.parametrize(
    "rule",
    [
        'kind = "ratio"\nwhere = "level = \'error\'"\ntotal = "true"\nwindow = "30s"\n'
        'ratio = 0.3\nmin_total = 10\nfor = "20s"\nrenotify = "45s"',
        'kind = "threshold"\nwhere = "level = \'error\'"\nwindow = "10s"\nthreshold = 8\nrenotify = "30s"',
        'kind = "match"\nwhere = "level = \'error\'"\nwindow = "5s"\ngroup_by = ["service"]',
        'kind = "absence"\nwhere = "level = \'error\'"\nwindow = "20s"\nfor = "5s"\nrenotify = "25s"',
        'kind = "spike"\nwhere = "level = \'error\'"\nwindow = "20s"\nfactor = 1.5\nmin_count = 5\n'
        'for = "5s"\nrenotify = "10s"',
    ],
)
@pytest.mark.slow
def test_open_alerts_added_a_stretch_at_a_time_give_the_alerts_of_stepping_through_them(
    tmp_path: Path, monkeypatch, rule: str
) -> None:
    # Long stretches where the condition keeps holding (errors 60% of the time, none at all),
    # broken by renotify and `for` timers and by the condition stopping now and then, in a few
    # large batches: added a stretch at a time (stretches.py) or stepped through one by one,
    # every change (figures, examples, times) and the alerts table must be the same.
    stream = []
    for i in range(2400):
        share = 6 if 300 <= i < 900 or 1500 <= i < 1700 else 0 if 1000 <= i < 1300 else 1
        level = "error" if i % 10 < share and i % 97 else "info"
        stream.append(record(i * 0.5, level=level, service=f"s{i % 3}"))
    results, held, quiet = [], [0], [0]
    scan = fast.scan

    def counting_scan(group, arrivals, start, holding, due):
        stepped = scan(group, arrivals, start, holding, due)
        (held if holding else quiet).append(stepped)
        return stepped

    monkeypatch.setattr(fast, "scan", counting_scan)  # (only to count what the shortcuts did)
    # Then every arrival stepped through, with an alert open or not (the bounds and the backlog
    # stay on: dry runs and held stretches are what is compared here).
    for shortcuts in (Shortcuts.ALL, Shortcuts(dry_runs=False, held_stretches=False)):
        h = Harness(tmp_path, f'[[rule]]\nname = "r"\n{rule}\n', shortcuts=shortcuts)
        for begin in range(0, len(stream), 700):
            h.feed(*stream[begin : begin + 700])
        h.advance(1500)
        results.append(([c.payload for c in h.changes], h.con.sql("FROM alerts ORDER BY id").fetchall()))
        h.close()
    assert results[0] == results[1]
    if "absence" not in rule:  # (its alerts hold while nothing arrives: no stretch to add)
        assert max(held) >= 10  # stretches of 10 arrivals and more were added at once
    if 'kind = "spike"' in rule:  # (ratio and absence: the bounds skip what a dry run would)
        assert max(quiet) >= 10  # ... and stretches with no alert open went through dry runs
    assert sum(1 for p in results[0][0] if p["event"] == "firing") >= 2


def test_a_live_engine_merges_the_batches_committed_within_its_period(tmp_path: Path) -> None:
    # Following, each evaluation has a fixed cost whatever its size: batches committed within
    # `evaluate_every`'s period are evaluated as one, with the alerts one at a time gives, and
    # closing does not wait out the period.
    path = tmp_path / "rules.toml"
    path.write_text(THRESHOLD)
    ruleset = load_paths([str(path)])
    batches = [[record(b * 2 + i, level="error") for i in range(2)] for b in range(6)]
    results = {}
    for period in (0.0, 30.0):
        engine = RuleEngine(ruleset, threaded=True)
        engine.evaluate_every(period)
        evaluated: list[int] = []
        process = engine.process

        def counted(records, *rest, evaluated=evaluated, process=process, **kw):
            evaluated.append(len(records))
            process(records, *rest, **kw)

        engine.process = counted
        seen: list[tuple[str, str]] = []
        engine.subscribe(
            lambda changes, seen=seen: seen.extend((c.alert.rule.name, c.event) for c in changes)
        )
        started = time.monotonic()
        engine.on_records(batches[0])
        while not evaluated and time.monotonic() - started < 10:
            time.sleep(0.01)
        for batch in batches[1:]:
            engine.on_records(batch)
        engine.close()
        results[period] = (evaluated, seen, time.monotonic() - started)
    assert sum(results[0.0][0]) == sum(results[30.0][0]) == 12
    assert results[30.0][0] == [2, 10]  # the first at once, the rest merged when the period ended
    assert results[0.0][1] == results[30.0][1] and results[30.0][1]
    assert results[30.0][2] < 10  # close() ended the wait


def test_a_live_engine_writes_a_firing_alerts_moving_count_at_most_once_a_second(tmp_path: Path) -> None:
    h = Harness(tmp_path, THRESHOLD)  # (in the caller's thread: only the store is deferred)
    h.engine.evaluate_every(0.5)

    def stored() -> list[tuple]:
        return h.con.execute("SELECT state, count FROM alerts").fetchall()

    before_first_write = time.monotonic()
    h.feed(*[record(i, level="error") for i in range(3)])
    assert stored() == [("firing", 3)]  # a change of state is written at once
    h.feed(record(3, level="error"))
    h.feed(record(4, level="error"))
    # The count moved: written when a second has passed. Asserted while less than a second has
    # passed since before the first write, which a loaded machine need not manage in these few
    # steps (then a second write is allowed, and the next step shows the count did move on).
    if time.monotonic() - before_first_write < engine_module.STORE_SECONDS:
        assert stored() == [("firing", 3)]
    time.sleep(engine_module.STORE_SECONDS)
    h.feed(record(5, level="error"))
    assert stored() == [("firing", 6)]
    h.feed(record(6, level="error"))
    h.engine.close()  # and whatever is left when the engine closes
    assert stored() == [("firing", 7)]
    h.con.close()
