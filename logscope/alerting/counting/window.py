"""A window's entries: counts of records at instants, in time order, with their sum."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

# One arrival for a group at one instant: (ts, matching records, total records, last matching id).
Arrival = tuple[int, int, int, int | None]


class Window:
    """Counts of records at instants, in time order, with their sum."""

    __slots__ = ("entries", "sum")

    def __init__(self) -> None:
        self.entries: deque[tuple[int, int]] = deque()
        self.sum = 0

    def add(self, ts: int, count: int) -> None:
        self.entries.append((ts, count))
        self.sum += count

    def head(self) -> int | None:
        return self.entries[0][0] if self.entries else None

    def extend(self, entries: Iterable[tuple[int, int]]) -> None:
        for entry in entries:
            self.entries.append(entry)
            self.sum += entry[1]

    def drop_until(self, ts: int) -> None:
        """Remove the entries at or before `ts`."""
        entries = self.entries
        while entries and entries[0][0] <= ts:
            self.sum -= entries.popleft()[1]

    def pop_until(self, ts: int) -> list[tuple[int, int]]:
        """Remove and return the entries at or before `ts`."""
        removed = []
        entries = self.entries
        while entries and entries[0][0] <= ts:
            entry = entries.popleft()
            self.sum -= entry[1]
            removed.append(entry)
        return removed
