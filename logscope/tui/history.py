"""What was typed into the filter, search and SQL boxes, kept across runs (as lnav keeps its
command history): `$XDG_STATE_HOME/logscope/history.json` (~/.local/state by default)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

# Entries kept per box, newest last.
KEEP = 200


def default_history_path() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state_home) / "logscope" / "history.json"


class History:
    """Lists of entries by box name, read once and written after each new entry."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list[str]] = {}
        if path is not None:
            try:
                loaded = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                loaded = {}
            if isinstance(loaded, dict):
                self.entries = {
                    str(name): [str(item) for item in items][-KEEP:]
                    for name, items in loaded.items()
                    if isinstance(items, list)
                }

    def of(self, box: str) -> list[str]:
        """The list a box recalls from (shared: the box adds to it)."""
        return self.entries.setdefault(box, [])

    def save(self) -> None:
        """Write the history; a state directory that cannot be written is not worth an error."""
        if self.path is None:
            return
        for items in self.entries.values():
            del items[:-KEEP]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_bytes(orjson.dumps(self.entries))
            temporary.replace(self.path)
        except OSError:
            pass
