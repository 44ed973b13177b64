"""One-shot `ingest` evaluates rules while it imports when the file is in time order
(alerting/replay.py): the alerts must be exactly those of the replay after the import."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import REPO, query_db

from logscope.alerting import replay as replay_module
from logscope.alerting import runner as runner_module
from logscope.alerting.engine import RuleEngine
from logscope.alerting.loader import load_paths
from logscope.alerting.replay import instant_cut
from logscope.cli import main
from logscope.record import Record
from logscope.store.bulk import StoredRecords
from logscope.store.database import MEMORY, open_for_writing
from logscope.store.writer import LogWriter

S = 1_000_000

# Long lines: an 8 MB block of the import holds about 14,000 of them.
AGENT = "Mozilla/5.0 (X11; Linux x86_64) " + "AppleWebKit/537.36 (KHTML, like Gecko) " * 14
RULES = """
[[rule]]
name = "busy_client"
kind = "threshold"
where = "status = 404"
group_by = ["client"]
window = "1m"
threshold = 6
for = "10s"
renotify = "5m"

[[rule]]
name = "errors_by_method"
kind = "match"
where = "status >= 500 AND path LIKE '/api/%'"
group_by = ["method"]
window = "2m"

[[rule]]
name = "error_share"
kind = "ratio"
where = "status >= 500"
window = "5m"
ratio = 0.08
min_total = 50

[[rule]]
name = "spike_404"
kind = "spike"
where = "status = 404"
group_by = ["method"]
window = "3m"
factor = 2
min_count = 10

[[rule]]
name = "no_health_checks"
kind = "absence"
where = "path = '/healthz'"
window = "2m"

[[rule]]
name = "new_agent_path"
kind = "new_value"
field = "path"
where = "status < 600"
learn = "30m"
window = "5m"
"""


def access_log(lines: int, seed: int = 7) -> list[str]:
    """nginx lines, one every 0.25 s, with bursts of errors and 404s and pauses in health checks."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out = []
    for n in range(lines):
        at = start + timedelta(seconds=n / 4)
        minute = n // 240
        burst = minute % 37 in (5, 6)
        status = rng.choice([500, 502, 200]) if burst else rng.choice([200] * 30 + [404, 404, 301, 500])
        if minute % 23 == 9:
            status = 404 if rng.random() < 0.3 else status
        path = rng.choice(["/api/items", "/api/users", "/index.html", "/static/app.js"])
        if n % 40 == 0 and minute % 50 not in range(20, 24):
            path = "/healthz"
        if n % 5000 == 4999:
            path = f"/new/{n}"
        method = rng.choice(["GET", "GET", "GET", "POST", "PUT"])
        out.append(
            f'10.0.{n % 3}.{rng.randrange(3)} - - [{at:%d/%b/%Y:%H:%M:%S +0000}] "{method} {path} HTTP/1.1"'
            f' {status} 512 "-" "{AGENT}"'
        )
    return out


def ingest(tmp_path: Path, log: Path, tag: str, monkeypatch, speculate: bool) -> tuple[list, str, bool]:
    """(the alerts table, the alerts-out lines, whether the rules ran during the import)."""
    monkeypatch.setattr(replay_module, "SPECULATE", speculate)
    seen: list[bool] = []
    finish = replay_module.OrderedReplay.finish

    def spy(self, last_id, evaluate=True):
        seen.append(self.ordered and self.next_id == last_id + 1)
        return finish(self, last_id, evaluate)

    monkeypatch.setattr(replay_module.OrderedReplay, "finish", spy)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    db, out = tmp_path / f"{tag}.duckdb", tmp_path / f"{tag}.jsonl"
    args = ["ingest", str(log), "--db", str(db), "--rules", str(rules), "--rules", str(REPO / "rules")]
    assert main([*args, "--no-default-rules", "--alerts-out", str(out), "-q"]) == 0
    table = query_db(db, "SELECT * FROM alerts ORDER BY id")
    return table, out.read_text(), seen == [True]


@pytest.mark.parametrize("disordered", [False, True])
@pytest.mark.slow
def test_rules_during_the_import_give_the_alerts_of_the_replay_after_it(
    tmp_path: Path, monkeypatch, disordered: bool
) -> None:
    # During the import the engine gets the import's blocks (~14,000 lines, a few records of
    # each block's last second held back for the next), after it chunks of 7,000 records: the
    # batches differ (and would with merging, which depends on timing), the alerts must not.
    monkeypatch.setattr(replay_module, "REPLAY_ROWS", 7000)
    monkeypatch.setattr(runner_module, "MERGE_RECORDS", 1)
    lines = access_log(45_000)
    if disordered:  # the second half first: its blocks come before the first half's in time
        lines = lines[22_500:] + lines[:22_500]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    during, during_out, ran_during = ingest(tmp_path, log, "during", monkeypatch, True)
    after, after_out, ran_after = ingest(tmp_path, log, "after", monkeypatch, False)
    assert ran_during is not disordered and not ran_after
    assert during == after
    assert during_out == after_out
    rules = {row[1] for row in after}
    assert {"busy_client", "errors_by_method", "error_share", "spike_404", "no_health_checks"} <= rules
    assert "new_agent_path" in rules and len(after_out.splitlines()) > 50


@pytest.mark.slow
def test_a_second_import_knows_the_first_ones_values_the_same_on_both_paths(
    tmp_path: Path, monkeypatch
) -> None:
    """The file grows and is imported again: new_value rules start from the values stored by the
    first import (alerting/history.py), whether rules run during the import or after it."""
    monkeypatch.setattr(replay_module, "REPLAY_ROWS", 7000)
    monkeypatch.setattr(runner_module, "MERGE_RECORDS", 1)
    lines = access_log(20_000)
    results = {}
    log = tmp_path / "access.log"
    for speculate in (True, False):  # a database each, the same file (groups name its path)
        log.write_text("\n".join(lines[:10_000]) + "\n")
        ingest(tmp_path, log, str(speculate), monkeypatch, speculate)
        with open(log, "a") as handle:
            handle.write("\n".join(lines[10_000:]) + "\n")
        results[speculate] = ingest(tmp_path, log, str(speculate), monkeypatch, speculate)
    (during, during_out, ran_during), (after, after_out, ran_after) = results[True], results[False]
    assert ran_during and not ran_after
    assert during == after
    assert during_out == after_out
    notifications = [json.loads(line) for line in after_out.splitlines()]
    new_paths = [
        n["group"]["path"] for n in notifications if n["rule"] == "new_agent_path" and n["event"] == "firing"
    ]
    # Learning 30 minutes from the first stored record: /new/4999 (at 20 min) is learned; the
    # second import's new paths alert (without the stored history, it would learn /new/14999).
    assert new_paths == ["/new/9999", "/new/14999", "/new/19999"]


def test_replay_batches_end_between_instants() -> None:
    ts = pa.chunked_array([[1, 1, 2, 2, 2, 3]], pa.int64())
    assert instant_cut(ts, 6) == 5  # everything so far: the last instant waits for what follows
    assert instant_cut(ts, 3) == 2  # record 3 is at instant 2: the batch ends before it
    assert instant_cut(ts, 1) == 2  # ... unless that is the first instant: then after it
    assert instant_cut(pa.chunked_array([[4, 4]], pa.int64()), 2) == 0  # one instant: wait


@pytest.mark.slow
def test_a_block_going_on_with_an_instant_fed_whole_makes_the_rules_replay_after_the_import(
    tmp_path: Path,
) -> None:
    """Once the import is done, the replay hands the engine the last instant with the last block.
    Should a block still go on with that instant (which would split it between two batches), the
    held engine is dropped and the rules replay after the import."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    ruleset = load_paths([str(rules)])
    at = 1_767_225_600_000_000
    results = {}
    for second_at in (3, 4):  # the second block starts at the first one's last instant, or after it
        con = open_for_writing(MEMORY)
        writer = LogWriter(con)
        writer.write([Record(at + n * S, at, "a.log", None, "x", "info", "m", None, "m") for n in range(4)])
        held: list[bool] = []

        def make_engine(hold: bool, held=held) -> RuleEngine:
            held.append(hold)
            return RuleEngine(ruleset, held=hold)

        replay = replay_module.OrderedReplay(make_engine, con, first_id=1, progress=lambda: (100, 100, True))
        replay.on_records(StoredRecords.in_store(con, 1, 4))
        deadline = time.monotonic() + 10  # the replay's thread took the first block (all of it)
        while replay.fed < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        writer.write([Record(at + second_at * S, at, "a.log", None, "x", "info", "m", None, "m")])
        replay.on_records(StoredRecords.in_store(con, 5, 5))
        replay.finish(5).close()
        results[second_at] = held
        con.close()
    assert results == {3: [True, False], 4: [True]}


def test_replayed_batches_hold_every_record_in_time_order_and_never_split_an_instant() -> None:
    con = open_for_writing(MEMORY)
    at = 1_767_225_600_000_000
    seconds = [5, 1, 1, 1, 1, 2, 9, 3, 3, 3, 3, 3, 4, 0, 2]  # out of order, some instants repeated
    LogWriter(con).write(
        [Record(at + n * S, at, "a.log", None, "x", "info", "m", None, "m") for n in seconds]
    )
    batches = [b.table for b in replay_module.batches_in_time_order(con, 1, ["id", "ts"], rows=3)]
    ids = [i for batch in batches for i in batch["id"].to_pylist()]
    assert ids == [i for _, i in sorted((n, i) for i, n in enumerate(seconds, start=1))]
    instants = [set(batch["ts"].to_pylist()) for batch in batches]
    assert all(not (a & b) for n, a in enumerate(instants) for b in instants[n + 1 :])
    assert len(batches) >= 4 and max(batch.num_rows for batch in batches) == 5  # (instant 3: 5 records)
