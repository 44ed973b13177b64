"""The fast evaluator changes nothing: its shortcuts (alerting/counting/: the SQL backlog,
`cannot_fire`, bounds, dry runs, held stretches) and splitting records into batches (between
instants) give every change and the alerts table of the reference evaluator stepping through each
arrival of one batch (`Shortcuts.NONE`). Random rules of every counting kind, with `for` and
`renotify` on whole seconds so that timers fall due exactly at arrivals and expiries, over random
streams. A new counting kind is one line in `KIND_OPTIONS`."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from logscope.alerting.counting import Shortcuts
from logscope.alerting.engine import RuleEngine
from logscope.alerting.kinds import KINDS
from logscope.alerting.loader import load_paths
from logscope.record import Record
from logscope.store.database import MEMORY, open_for_writing
from logscope.store.writer import LogWriter

S = 1_000_000
T0 = 1_767_225_600 * S


WHERE = "where = \"level = 'error'\""
# Per counting kind, its own options drawn at random (each rule also gets a window, `for`, ...).
KIND_OPTIONS = {
    "match": lambda rnd: [WHERE],
    "threshold": lambda rnd: [WHERE, f"threshold = {rnd.randint(1, 4)}"],
    "ratio": lambda rnd: [
        WHERE,
        f"ratio = {rnd.choice([0.3, 0.5, 0.6])}",
        f"min_total = {rnd.randint(1, 5)}",
    ],
    "absence": lambda rnd: [WHERE, f"threshold = {rnd.randint(1, 4)}"],
    "spike": lambda rnd: [WHERE, "factor = 2", f"min_count = {rnd.randint(1, 3)}"],
    "new_value": lambda rnd: ['field = "code"', f'learn = "{rnd.choice([0, 2, 5])}s"'],
    "new_pattern": lambda rnd: [f"errors_only = {rnd.choice(['true', 'false'])}", 'learn = "3s"'],
}
# Messages of a few patterns (numbers masked), more of them as time goes on: new_pattern's.
MESSAGES = ("disk {n} full", "user {n} logged in", "cache miss", "retry {n} of 5", "queue is full")


def random_rule(rnd: random.Random, name: str) -> str:
    kind = rnd.choice(list(KIND_OPTIONS))
    window = rnd.choice([1, 2, 3, 5, 8])
    lines = [f'[[rule]]\nname = "{name}"\nkind = "{kind}"\nwindow = "{window}s"', *KIND_OPTIONS[kind](rnd)]
    if "group_by" in KINDS[kind].keys and rnd.random() < 0.5:
        lines.append('group_by = ["service"]')
    if rnd.random() < 0.6:
        lines.append(f'for = "{rnd.choice([1, 2, 3, 4])}s"')
    if rnd.random() < 0.6:
        lines.append(f'renotify = "{rnd.choice([1, 2, 3, 5])}s"')
    return "\n".join(lines) + "\n"


def random_stream(rnd: random.Random) -> list[Record]:
    """Records on a half-second grid, often several at an instant; the share of errors jumps."""
    records, at, share = [], 0.0, 0.5
    for _ in range(rnd.randint(50, 400)):
        if rnd.random() < 0.05:
            share = rnd.choice([0.0, 0.2, 0.5, 0.8, 1.0])
        at += rnd.choice([0, 0, 0.5, 0.5, 1, 1, 1.5, 2, 3, 0.25])
        level = "error" if rnd.random() < share else "info"
        fields = {"service": f"s{rnd.randint(0, 2)}", "code": str(rnd.randint(0, 12) + int(at) // 20)}
        message = rnd.choice(MESSAGES[: 1 + int(at) // 15]).format(n=rnd.randint(1, 99))
        records.append(
            Record(T0 + int(at * S), T0, "app.log", "web1", "json", level, message, fields, message)
        )
    return records


def between_instants(rnd: random.Random, records: list[Record]) -> list[list[Record]]:
    cuts = [i for i in range(1, len(records)) if records[i].ts != records[i - 1].ts and rnd.random() < 0.15]
    edges = [0, *cuts, len(records)]
    return [records[begin:end] for begin, end in itertools.pairwise(edges)]


def run(
    tmp_path: Path, rules: str, batches: list[list[Record]], end: float, shortcuts: Shortcuts = Shortcuts.ALL
) -> tuple:
    """Every change's payload, the alerts table and the errors, after `end` seconds."""
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    ruleset = load_paths([str(path)])
    assert not ruleset.problems, ruleset.problems
    con = open_for_writing(MEMORY)
    writer, errors, changes = LogWriter(con), [], []
    engine = RuleEngine(ruleset, store=con, on_error=errors.append, shortcuts=shortcuts)
    engine.subscribe(changes.extend)
    for batch in batches:
        writer.write(batch)
        engine.on_records(batch)
    engine.advance(T0 + int(end * S))
    result = ([change.payload for change in changes], con.sql("FROM alerts ORDER BY id").fetchall(), errors)
    engine.close()
    con.close()
    return result


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.slow
def test_the_fast_evaluator_and_batches_give_the_alerts_of_the_reference(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    rules = "".join(random_rule(rnd, f"r{n}") for n in range(rnd.randint(1, 3)))
    records = random_stream(rnd)
    end = (records[-1].ts - T0) / S + 30
    batches = between_instants(rnd, records)
    stepped = run(tmp_path, rules, [records], end, Shortcuts.NONE)  # every arrival, one at a time
    assert run(tmp_path, rules, [records], end) == stepped, rules
    assert run(tmp_path, rules, batches, end) == stepped, rules
