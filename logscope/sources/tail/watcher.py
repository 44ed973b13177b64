"""Noticing change: watchdog (inotify) events, with a slow poll as the safety net."""

from __future__ import annotations

import glob
import os
import threading
from dataclasses import dataclass

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

GLOB_CHARS = frozenset("*?[")
# What inotify reports: files and directories appearing, moving and vanishing. Writes are added only
# when growth is noticed by events rather than by the sweep (FollowOptions.growth_sweep_seconds).
STRUCTURE_EVENTS = [FileCreatedEvent, FileMovedEvent, FileDeletedEvent, DirCreatedEvent, DirMovedEvent]


@dataclass(frozen=True)
class Pattern:
    """One follow argument: a file path, a directory (every file below it) or a glob."""

    argument: str

    @property
    def is_glob(self) -> bool:
        return any(char in GLOB_CHARS for char in self.argument)

    def watch_root(self) -> tuple[str, bool]:
        """The directory to watch for this argument, and whether to watch below it too."""
        if self.is_glob:
            parts = self.argument.split(os.sep)
            fixed = []
            for part in parts:
                if any(char in GLOB_CHARS for char in part):
                    break
                fixed.append(part)
            root = os.sep.join(fixed) or (os.sep if self.argument.startswith(os.sep) else ".")
            deep = len(fixed) < len(parts) - 1 or "**" in self.argument
            return root, deep
        if os.path.isdir(self.argument):
            return self.argument, True
        return os.path.dirname(self.argument) or ".", False

    def files(self) -> list[str]:
        """The regular files this argument names right now."""
        if self.is_glob:
            found = glob.glob(self.argument, recursive=True)
            return sorted(path for path in found if os.path.isfile(path))
        if os.path.isdir(self.argument):
            found = []
            for root, dirs, names in os.walk(self.argument):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
            return found
        return [self.argument]


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.watcher.notice(event)


class Watcher:
    """Collects the paths that changed since the last `take`, and wakes the reader."""

    def __init__(self, write_events: bool = False) -> None:
        self.events = STRUCTURE_EVENTS + ([FileModifiedEvent] if write_events else [])
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._changed: set[str] = set()
        self._appeared = False
        self._watched: set[str] = set()
        self._observer = Observer()
        self._handler = _Handler(self)
        self.failures: list[str] = []

    def start(self) -> None:
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=2)

    def watch(self, directory: str, recursive: bool) -> None:
        """Watch a directory (once); a missing one is left to the poll."""
        directory = os.path.abspath(directory)
        if directory in self._watched or not os.path.isdir(directory):
            return
        try:
            self._observer.schedule(self._handler, directory, recursive=recursive, event_filter=self.events)
        except OSError as exc:  # e.g. the inotify watch limit: the poll still covers it
            self.failures.append(f"{directory}: cannot watch ({exc.strerror or exc}); polling instead")
        self._watched.add(directory)

    def notice(self, event: FileSystemEvent) -> None:
        with self._lock:
            for path in (event.src_path, getattr(event, "dest_path", "")):
                if path:
                    self._changed.add(os.fsdecode(path))
            if event.event_type in ("created", "moved"):
                self._appeared = True
        self.wake.set()

    def take(self) -> tuple[set[str], bool]:
        """The absolute paths changed since the last call, and whether anything appeared."""
        self.wake.clear()
        with self._lock:
            changed, appeared = self._changed, self._appeared
            self._changed, self._appeared = set(), False
        return changed, appeared
