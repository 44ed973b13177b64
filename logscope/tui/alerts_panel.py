"""The alerts panel: firing and recent alerts from the `alerts` table, newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from logscope.tui.rendering import SEVERITY_STYLES

# Column names the panel understands, most specific first; the alerts table defines which exist.
NAME_COLUMNS = ("rule", "rule_name", "name")
SEVERITY_COLUMNS = ("severity", "level")
TIME_COLUMNS = ("fired_at", "ts", "started_at", "created_at")
STATE_COLUMNS = ("state", "status")
COUNT_COLUMNS = ("count", "match_count", "matches", "hits")
SUMMARY_COLUMNS = ("summary", "message", "description")
IDS_COLUMNS = ("record_ids", "example_ids", "examples", "sample_ids")
PREDICATE_COLUMNS = ("predicate", "where", "condition", "filter")


def pick(alert: dict[str, Any], names: tuple[str, ...], default: Any = None) -> Any:
    for name in names:
        if name in alert and alert[name] is not None:
            return alert[name]
    return default


def alert_record_ids(alert: dict[str, Any]) -> list[int] | None:
    """The example record ids an alert carries (a list, or JSON text of one), if any."""
    value = pick(alert, IDS_COLUMNS)
    if value is None:
        return None
    if isinstance(value, str):
        import orjson

        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(value, list):
        return None
    return [int(v) for v in value if isinstance(v, int | float | str) and str(v).lstrip("-").isdigit()]


_GROUP_NAME = re.compile(r"(?:^|,)([A-Za-z_][\w.]*)=")
LOG_COLUMNS = frozenset({"source", "host", "level", "format"})


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def alert_group_predicate(alert: dict[str, Any]) -> str | None:
    """A SQL predicate for the alert's group (`group_key` like `source=/var/log/a.log`), if any."""
    group_key = alert.get("group_key")
    if not group_key:
        return None
    names = list(_GROUP_NAME.finditer(group_key))
    clauses = []
    for index, match in enumerate(names):
        end = names[index + 1].start() if index + 1 < len(names) else len(group_key)
        name, value = match.group(1), group_key[match.end() : end]
        column = name if name in LOG_COLUMNS else f"fields->>{sql_string(name)}"
        clauses.append(f"{column} IS NULL" if value == "None" else f"{column} = {sql_string(value)}")
    return " AND ".join(clauses) or None


def alert_key(alert: dict[str, Any]) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in alert.items()))


def format_alert(alert: dict[str, Any], zone: tzinfo = UTC) -> Text:
    severity = str(pick(alert, SEVERITY_COLUMNS, "warning")).lower()
    state = str(pick(alert, STATE_COLUMNS, "")).lower()
    when = pick(alert, TIME_COLUMNS)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if state in ("firing", "open", "active") else "○ ", SEVERITY_STYLES.get(severity, ""))
    text.append(f"{severity[:4].upper():4} ", SEVERITY_STYLES.get(severity, ""))
    text.append(str(pick(alert, NAME_COLUMNS, "alert")), "bold")
    count = pick(alert, COUNT_COLUMNS)
    if count is not None:
        text.append(f" ×{count}", "magenta")
    if state:
        text.append(f" {state}", "bold red" if state == "firing" else "dim")
    if isinstance(when, datetime):
        text.append(f" {when.astimezone(zone).strftime('%H:%M:%S')}", "blue")
    summary = pick(alert, SUMMARY_COLUMNS)
    if summary:
        text.append(f"\n  {summary}", "italic")
    return text


class AlertsPanel(Vertical):
    """Shows the alerts; posts AlertChosen when one is selected."""

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()

    class AlertChosen(Message):
        def __init__(self, alert: dict[str, Any]) -> None:
            super().__init__()
            self.alert = alert

    def __init__(self, zone: tzinfo = UTC, **kwargs) -> None:
        super().__init__(**kwargs)
        self.zone = zone
        self.alerts: list[dict[str, Any]] = []
        self._keys: list[tuple] = []
        self.firing = 0

    def compose(self) -> ComposeResult:
        yield Label("Alerts", id="alerts-title")
        yield OptionList(id="alerts-list")

    def show_alerts(self, alerts: list[dict[str, Any]], available: bool = True) -> None:
        """Replace the list when it changed, keeping the highlighted alert."""
        keys = [alert_key(alert) for alert in alerts]
        title = self.query_one("#alerts-title", Label)
        firing = sum(1 for a in alerts if str(pick(a, STATE_COLUMNS, "")).lower() == "firing")
        self.firing = firing
        text = "Alerts · no alert rules running"
        if available:
            text = f"Alerts · {firing} firing · {len(alerts)} recent"
        if text != str(title.content):  # an update lays out the screen: only when it changed
            title.update(text)
        title.set_class(firing > 0, "-firing")
        if keys == self._keys:
            return
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        self.alerts, self._keys = alerts, keys
        options.clear_options()
        options.add_options([Option(format_alert(alert, self.zone)) for alert in alerts])
        if alerts:
            options.highlighted = min(highlighted or 0, len(alerts) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.alerts):
            self.post_message(self.AlertChosen(self.alerts[event.option_index]))
