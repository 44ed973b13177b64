"""How the app starts before the pipeline it shows exists (`logscope tail` draws first, then
assembles the run: commands/tail_start.py), and what keeps the keys typed meanwhile in order."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

from textual import events
from textual.screen import Screen

from logscope.tui.in_place_rows import wants_in_place
from logscope.tui.live import LiveFeed
from logscope.tui.messages import FeedReady, StartFailed

if TYPE_CHECKING:
    from logscope.pipeline.catch_up import CatchUpFiles
    from logscope.tui.filter_bar import FilterBar
    from logscope.tui.filters import FilterState
    from logscope.tui.log_view import LogView

# Keys of the log view that move the focus to a box of the filter bar, which the text typed next
# is for.
INPUT_KEYS = {"f": "focus_filter", "slash": "search", "t": "focus_time_range"}


class MainScreen(Screen):
    """The log view's screen: keys typed while the app starts go to the log view, not to the
    first input (Textual focuses the first focusable widget before `on_mount` runs)."""

    AUTO_FOCUS = "#log-view"


class StartUp:
    """The app's start: the feed that comes later, the keys typed before the log view had focus,
    and the keys that move the focus acted on at once (a mixin of LogscopeApp)."""

    feed: LiveFeed | None
    when_drawn: Callable[[], None] | None = None  # called once the first screen is drawn (tail's run)
    # The ends of the files followed, shown until the first records are stored (tail sets them).
    file_ends: tuple[tuple[str, str], ...] = ()
    # The files being imported, for filters and SQL over them in place meanwhile (tail sets it).
    catch_up: CatchUpFiles | None = None
    freeze_heap: bool
    _field_types: dict[str, str] | None
    filter_state: FilterState
    apply_filter: Callable[[FilterState], None]
    _early_keys: list[events.Key] | None
    main: Screen
    screen: Screen
    focused: Any
    log_view: LogView
    filter_bar: FilterBar

    @property
    def field_types(self) -> dict[str, str]:
        """What a bare field name in a filter is typed as (read on the first filter: loading the
        formats is not for the first screen)."""
        if self._field_types is None:
            from logscope.alerting.engine import format_field_types
            from logscope.parsing.registry import builtin_registry

            feed = self.feed
            parsers = feed.pipeline.registry.ordered if feed is not None else builtin_registry(UTC).ordered
            self._field_types = format_field_types(parsers)
        return self._field_types

    def post_feed(self, feed: LiveFeed) -> None:
        """The pipeline is assembled: follow what it commits (from any thread)."""
        self.post_message(FeedReady(feed))

    def post_start_failed(self) -> None:
        """Assembling the pipeline failed: end the app (from any thread)."""
        self.post_message(StartFailed())

    def on_feed_ready(self, message: FeedReady) -> None:
        assert isinstance(message.feed, LiveFeed)
        self.feed = message.feed
        self._field_types = None
        self.feed.connect(self._notify_committed)
        if self.main.query("#log-view"):
            self.log_view.records_committed(self.feed.last_id)
            if self.catch_up is not None and wants_in_place(self.filter_state):
                self.apply_filter(self.filter_state)  # typed before: now over the whole file too
        if self.freeze_heap:  # the pipeline's long-lived objects too (without a collection now:
            gc.freeze()  # a stall here would hold up the keys typed as the first records show)

    def on_start_failed(self, message: StartFailed) -> None:
        self.exit()

    def on_unmount(self) -> None:
        """The app is ending: a filter or statement reading the files in place is let go at once
        (the event loop waits for its worker threads before the app returns)."""
        if self.catch_up is not None:
            self.catch_up.close(wait_seconds=0)

    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    async def on_event(self, event: events.Event) -> None:
        """Keys typed while the app starts (tail keeps them as typed) wait for the log view."""
        if isinstance(event, events.Key) and self._early_keys is not None:
            self._early_keys.append(event)
            return
        if isinstance(event, events.Key) and self._moves_focus_to_an_input(event.key):
            # At once, here: forwarded to the log view, the key would act in its own queue, after
            # the app had forwarded the text typed right behind it (a busy moment) there too.
            getattr(self, f"action_{INPUT_KEYS[event.key]}")()
            return
        await super().on_event(event)

    def _moves_focus_to_an_input(self, key: str) -> bool:
        return key in INPUT_KEYS and self.screen is self.main and self.focused is self.log_view

    def _start_replaying_early_keys(self) -> None:
        keys, self._early_keys = self._early_keys or [], None
        if keys:
            self.run_worker(self._replay_early_keys(keys), group="early-keys")

    async def _replay_early_keys(self, keys: list[events.Key]) -> None:
        """One key at a time, each once the one before has acted (`f` moves the focus to the
        filter box before the text typed after it arrives)."""
        for key in keys:
            if key.key == "ctrl+j":  # Enter, typed before tail took the terminal's line editing off
                key = events.Key("enter", "\r")
            self.post_message(events.Key(key.key, key.character))
            for _ in range(3):  # the key, what it queued (a focus change), and what that queued
                for target in (self, self.focused or self.screen):
                    handled = asyncio.Event()
                    target.call_later(handled.set)
                    await handled.wait()
