"""The alerts panel: firing and recent alerts from the `alerts` table, newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.padding import Padding
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


def identity(alert: dict[str, Any]) -> tuple:
    """Which alert a row is, whatever its count or times: its id, else its rule and group."""
    if "id" in alert:
        return ("id", alert["id"])
    return ("rule", alert.get("rule"), alert.get("group_key"))


def alert_key(alert: dict[str, Any]) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in alert.items()))


SEVERITY_LABELS = {"critical": "CRIT", "error": "ERROR", "warning": "WARN", "info": "INFO"}


def format_alert(alert: dict[str, Any], zone: tzinfo = UTC, labels: dict[str, str] | None = None) -> Group:
    """Two lines: state, severity, rule, count, state, time; then the summary, indented."""
    severity = str(pick(alert, SEVERITY_COLUMNS, "warning")).lower()
    state = str(pick(alert, STATE_COLUMNS, "")).lower()
    when = pick(alert, TIME_COLUMNS)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● " if state in ("firing", "open", "active") else "○ ", SEVERITY_STYLES.get(severity, ""))
    text.append(SEVERITY_LABELS.get(severity, severity.upper()), SEVERITY_STYLES.get(severity, ""))
    text.append(" ")
    text.append(str(pick(alert, NAME_COLUMNS, "alert")), "bold")
    count = pick(alert, COUNT_COLUMNS)
    if count is not None:
        text.append(f" ×{count}", "magenta")
    if state:
        text.append(f" {state}", "bold red" if state == "firing" else "dim")
    if isinstance(when, datetime):
        text.append(f" {when.astimezone(zone).strftime('%H:%M:%S')}", "blue")
    summary = pick(alert, SUMMARY_COLUMNS)
    if not summary:
        return Group(text)
    summary = str(summary)
    for path, label in sorted((labels or {}).items(), key=lambda item: -len(item[0])):
        summary = summary.replace(path, label)  # the name the log view gives the source
    return Group(text, Padding(Text(summary, style="italic"), (0, 0, 0, 2)))


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
        self._labels: dict[str, str] | None = None
        self.firing = 0

    def compose(self) -> ComposeResult:
        yield Label("Alerts", id="alerts-title")
        yield OptionList(id="alerts-list")

    def show_alerts(
        self, alerts: list[dict[str, Any]], available: bool = True, labels: dict[str, str] | None = None
    ) -> None:
        """Replace the list when it changed, keeping the highlighted alert highlighted."""
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
        if keys == self._keys and labels == self._labels:
            return
        options = self.query_one(OptionList)
        if labels == self._labels and [identity(a) for a in alerts] == [identity(a) for a in self.alerts]:
            # The same alerts, their counts or times moved on: new prompts in place (rebuilding the
            # list laid out and repainted the whole screen every second while one was firing).
            self.alerts, self._keys = alerts, keys
            for index, alert in enumerate(alerts):
                options.replace_option_prompt_at_index(index, format_alert(alert, self.zone, labels))
            return
        highlighted = options.highlighted
        chosen = None
        if highlighted is not None and highlighted < len(self.alerts):
            chosen = self.alerts[highlighted]
        self.alerts, self._keys, self._labels = alerts, keys, labels
        options.clear_options()
        options.add_options([Option(format_alert(alert, self.zone, labels)) for alert in alerts])
        if alerts:
            options.highlighted = self._same_alert(chosen, min(highlighted or 0, len(alerts) - 1))

    def _same_alert(self, chosen: dict[str, Any] | None, fallback: int) -> int:
        """Where the alert that was highlighted is now (by its id, else its rule and group)."""
        if chosen is None:
            return fallback
        for key in (("id",), ("rule", "group_key")):
            if all(name in chosen for name in key):
                for index, alert in enumerate(self.alerts):
                    if all(alert.get(name) == chosen[name] for name in key):
                        return index
        return fallback

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.alerts):
            self.post_message(self.AlertChosen(self.alerts[event.option_index]))
