"""Which of the fast evaluator's shortcuts are on. `Shortcuts.NONE` is the reference evaluator:
every arrival stepped through (reference.py) and no group kept back in the SQL backlog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Shortcuts:
    """Each shortcut of the fast evaluator (fast.py, arrivals.py), on or off."""

    backlog: bool = True  # groups short of their bound wait in SQL; known new_value values stay there
    cannot_fire: bool = True  # arrivals and expiries that cannot reach the bound are added in bulk
    bounds: bool = True  # stretches a kind's stretch bound rules out (bounds.py)
    dry_runs: bool = True  # arrivals before the condition first holds, in a tight loop (stretches.py)
    held_stretches: bool = True  # an open alert's stretches added at once (stretches.py)

    ALL: ClassVar[Shortcuts]
    NONE: ClassVar[Shortcuts]

    @property
    def any(self) -> bool:
        return self.backlog or self.cannot_fire or self.bounds or self.dry_runs or self.held_stretches


Shortcuts.ALL = Shortcuts()
Shortcuts.NONE = Shortcuts(False, False, False, False, False)
