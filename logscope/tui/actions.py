"""The app's actions by name: for the command palette, and which need the log view on top."""

from __future__ import annotations

# (action, title, help) for the command palette; the key bindings call the same actions.
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("focus_filter", "Filter", "Filter by a SQL predicate, plain text or /regex/"),
    ("focus_time_range", "Time range", "Show only a time window: 15m, or START..END"),
    ("search", "Search", "Highlight matches and jump to the nearest"),
    ("next_match", "Next match", "Jump to the next search match"),
    ("previous_match", "Previous match", "Jump to the previous search match"),
    ("clear_filters", "Clear filters", "Drop filter, time range, search, hidden levels and sources"),
    ("follow", "Follow", "Jump to the newest record and follow new ones"),
    ("pause", "Pause following", "Stop following new records"),
    ("detail", "Detail", "Show the highlighted record in full"),
    ("focus_alerts", "Alerts", "Go to the alerts panel"),
    ("focus_sources", "Source toggles", "Go to the source toggles"),
    ("toggle_sidebar", "Toggle side panel", "Show or hide alerts and sources"),
    ("sql", "SQL", "Run SQL over the logs table"),
    ("overview", "Overview", "Histogram by level, sources, rates and drops"),
    ("help", "Help", "Every key"),
    ("quit", "Quit", "Leave logscope"),
)


# Actions that work on the log view's screen; disabled while another screen is on top.
MAIN_ACTIONS = frozenset(
    {
        "focus_filter",
        "focus_time_range",
        "search",
        "clear_filters",
        "focus_alerts",
        "focus_sources",
        "toggle_sidebar",
        "sql",
        "overview",
        "focus_log",
        "toggle_level",
        "next_match",
        "previous_match",
        "follow",
        "pause",
        "detail",
    }
)
