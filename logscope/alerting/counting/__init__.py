"""Counting rules' evaluation, behind one boundary: what a rule means and what makes it fast.

- `reference.py`: the reference evaluator, every arrival and expiry stepped through;
- `fast.py`: the same with shortcuts (stretches.py, bounds.py), switched by `Shortcuts`;
- `arrivals.py`: a batch's arrivals per rule and group, from SQL, with the backlog of groups
  that cannot fire yet (a shortcut too);
- `rules.py`: a rule's groups, made by either evaluator.

`Shortcuts.NONE` is the reference; the engine takes `shortcuts=` (tests/test_rules_stepping.py
compares the two on random rules and streams).
"""

from logscope.alerting.counting.arrivals import ArrivalCollector, key_sql, key_tuple
from logscope.alerting.counting.rules import CountingRule
from logscope.alerting.counting.shortcuts import Shortcuts
from logscope.alerting.counting.window import Arrival

__all__ = ["Arrival", "ArrivalCollector", "CountingRule", "Shortcuts", "key_sql", "key_tuple"]
