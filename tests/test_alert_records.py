"""Which alerts the TUI explains with the records of the window that fired them: the rule-kind
registry says (alerting/kinds/), so a new kind needs no list in the TUI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from logscope.alerting.kinds import KINDS
from logscope.alerting.loader import load_file
from logscope.tui.alert_records import window_filter

RULES = """
[[rule]]
name = "burst"
kind = "threshold"
where = "level = 'error'"
window = "1m"
threshold = 5

[[rule]]
name = "share"
kind = "ratio"
where = "level = 'error'"
window = "5m"
ratio = 0.5

[[rule]]
name = "each"
kind = "match"
where = "level = 'error'"

[[rule]]
name = "jump"
kind = "spike"
where = "level = 'error'"
window = "1m"
factor = 3

[[rule]]
name = "quiet"
kind = "absence"
where = "true"
window = "10m"

[[rule]]
name = "fresh"
kind = "new_value"
where = "true"
field = "host"
"""


def test_the_window_that_fired_an_alert_is_shown_for_the_kinds_the_registry_names(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    rules = {rule.name: rule for rule in load_file(str(path)).rules}
    fired = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    con = duckdb.connect()
    try:
        shown = {
            name: window_filter({"rule": name, "fired_at": fired}, rules, {}, con) is not None
            for name in rules
        }
        burst = window_filter({"rule": "burst", "fired_at": fired}, rules, {}, con)
    finally:
        con.close()
    assert shown == {name: KINDS[rule.kind].window_made_it_fire for name, rule in rules.items()}
    assert [name for name, yes in shown.items() if yes] == ["burst", "share"]
    assert burst is not None and burst.label == "alert burst: the 1m before it fired"
    assert burst.time_text == "2026-12-07 02:59:00.000..2026-12-07 03:00:00.000"
