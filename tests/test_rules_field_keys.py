"""The rules' read-back of stored records carries in `fields` only the keys the rules read
(alerting/fieldkeys.py, store/bulk.py `narrowed_fields`): every lookup the rules make must give
what it gives on the whole `fields`, and the alerts must be the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import query_db

from logscope.alerting import replay as replay_module
from logscope.alerting.batches import concat
from logscope.alerting.fieldkeys import keys_read
from logscope.alerting.loader import load_paths
from logscope.alerting.predicates import PredicateEvaluator
from logscope.alerting.sandbox import open_sandbox
from logscope.cli import main
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.bulk import BulkImporter
from logscope.record import Record
from logscope.store.bulk import stored_columns
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter


@pytest.mark.parametrize(
    ("expression", "keys"),
    [
        ("fields->>'exception' = 'x'", {"exception"}),
        ("(fields->'a') IS NULL AND json_extract_string(fields, '$.b') = '1'", {"a", "b"}),
        ("json_extract(fields, '/c') = '2' OR level = 'error'", {"c"}),
        ("coalesce(fields->>'x', message) LIKE '%e%'", {"x"}),
        ("level = 'error'", set()),
        ("status >= 500", set()),  # (a field column: the evaluator adds its name)
        ("fields IS NULL", None),
        ("len(json_keys(fields)) > 3", None),
        ("fields->>'a.b' = 'x'", None),  # (a key with a dot, or a path: not told apart here)
        ("fields->>'$.a.b' = 'x'", None),
        ("fields->>lower('X') = 'x'", None),
        ("fields->>0 = 'x'", None),
        ("fields->'a'->>'b' = 'x'", {"a"}),  # (the value of `a` is carried whole)
        ("list_contains(list_transform([1], fields -> fields + 1), 2)", None),
        ("'x' IN (SELECT * FROM (SELECT 1))", None),
        ("not valid (", None),
    ],
)
def test_keys_read_are_the_constant_lookups_of_fields(expression: str, keys: set[str] | None) -> None:
    con = duckdb.connect()
    assert keys_read(con, [expression]) == (None if keys is None else frozenset(keys))


def test_the_bundled_rules_read_only_some_keys() -> None:
    """app_new_exception's lookups and the field columns: what the import's read-back carries."""
    evaluator = PredicateEvaluator(load_paths([], builtin=True).rules)
    assert "fields" in evaluator.compiled.record_columns
    exceptions = {"exception", "exc_type", "error_type", "exc_info"}
    assert evaluator.compiled.field_keys == exceptions | set(evaluator.compiled.field_columns)
    assert "status" in evaluator.compiled.field_keys


ODD = [
    {"a": None, "b": 1.50, "c": 'x"y\\z\u00e9\u2028', "n": {"d": [1, 2.0, {"e": None}]}, "big": 2**63 - 1},
    {"a": "", "b": -0.0, "c": [], "n": {}, "a/b": 1, "c~d": 2, 'q"x': 3, "é": "\t", "small": 1e-300},
    {"b": True, "c": False, "n": "text", "m": 12345678.875, "s": "0" * 300},
    {"other": 1},
]
UNREAD = {"unread": "not read by the rules", "nested": {"a": 1}}
KEYS = ["a", "b", "c", "n", "m", "s", "a/b", "c~d", 'q"x', "é", "big", "small", "missing", "other"]


def test_narrowed_fields_give_every_lookup_of_the_whole(tmp_path: Path) -> None:
    """Stored records with odd values (null, nested, escaped, numbers, keys with / ~ and quotes)
    read back whole and narrowed: each lookup by key, in each form, gives the same."""
    log = tmp_path / "app.jsonl"
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        {"time": f"{start + timedelta(seconds=n):%Y-%m-%dT%H:%M:%SZ}", "msg": "m", **odd, **UNREAD}
        for n, odd in enumerate(ODD)
    ]
    log.write_text(
        "".join(json.dumps(row) + "\n" for row in [*rows, {"time": "2026-03-01T00:01:00Z", "msg": "bare"}])
    )
    con = open_for_writing(str(tmp_path / "a.duckdb"))
    BulkImporter(LogWriter(con), builtin_registry(UTC)).import_file(str(log))
    last = con.execute("SELECT max(id) FROM logs").fetchall()[0][0]
    whole = stored_columns(con, 1, last, ["id", "fields"])
    narrowed = stored_columns(con, 1, last, ["id", "fields"], KEYS)
    con.close()
    assert whole["id"] == narrowed["id"]
    assert sum(len(text or "") for text in narrowed["fields"].to_pylist()) < sum(
        len(text or "") for text in whole["fields"].to_pylist()
    )
    sandbox = open_sandbox()  # where the rules run: `fields` arrives as text
    lookups = []
    for key in KEYS:
        name = "'" + key.replace("'", "''") + "'"
        path = "'" + ('$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"').replace("'", "''") + "'"
        lookups += [f"fields->>{name}", f"fields->{name}", f"json_extract_string(fields, {path})"]
        lookups += [
            f"json_extract(fields, {path})",
            f"(fields->{name}) IS NULL",
            f"json_type(fields->{name})",
        ]
    results = []
    for table in (whole, narrowed):
        sandbox.register("batch", table)
        results.append(sandbox.execute(f"SELECT id, {', '.join(lookups)} FROM batch ORDER BY id").fetchall())
        sandbox.unregister("batch")
    assert results[0] == results[1]
    assert len(results[0]) == len(ODD) + 1 and results[0][0][1:4] == (None, "null", None)


RULES = """
[[rule]]
name = "mallory_fails"
kind = "threshold"
where = "fields->>'user' = 'mallory' AND status >= 500"
extract = { who = "fields->>'user'" }
group_by = ["who"]
window = "1m"
threshold = 3

[[rule]]
name = "eu_detail"
kind = "match"
where = "json_extract_string(fields, '$.region') = 'eu'"
extract = { detail = "CAST(fields->'detail' AS VARCHAR)" }
group_by = ["detail"]
window = "5m"

[[rule]]
name = "new_user"
kind = "new_value"
field = "user"
where = "level = 'info'"
learn = "2m"
window = "5m"
"""
WHOLE = """
[[rule]]
name = "traced"
kind = "match"
where = "list_contains(json_keys(fields), 'trace')"
window = "5m"
"""


def app_log(path: Path) -> None:
    """JSON lines, one a second: users failing now and then, detail objects, a traced record."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = []
    for n in range(1200):
        user = "mallory" if n % 97 < 6 else ["alice", "bob", "carol"][n % 3] if n < 600 else f"user{n // 200}"
        row = {
            "time": f"{start + timedelta(seconds=n):%Y-%m-%dT%H:%M:%SZ}",
            "level": "info",
            "msg": f"req {n}",
        }
        row |= {"user": user, "status": 503 if user == "mallory" else 200, "payload": "p" * 40}
        if n % 250 == 7:
            row |= {"region": "eu", "detail": {"zone": f"eu-{n % 4}", "ok": n % 2 == 0}}
        if n == 900:
            row["trace"] = "abc"
        rows.append(row)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def ingest(
    tmp_path: Path, log: Path, rules: str, tag: str, narrow: bool, monkeypatch
) -> tuple[list, str, list]:
    """(the alerts table, the alerts-out lines, the keys each read-back during the import carried)."""
    monkeypatch.setattr(replay_module, "NARROW_FIELDS", narrow)
    read_back: list = []

    def spy(con, first, last, columns, field_keys=None):
        read_back.append(None if field_keys is None else set(field_keys))
        return stored_columns(con, first, last, columns, field_keys)

    monkeypatch.setattr(replay_module, "stored_columns", spy)
    file = tmp_path / f"{tag}.toml"
    file.write_text(rules)
    db, out = tmp_path / f"{tag}.duckdb", tmp_path / f"{tag}.jsonl"
    args = ["ingest", str(log), "--db", str(db), "--rules", str(file), "--no-default-rules"]
    assert main([*args, "--alerts-out", str(out), "-q"]) == 0
    return (
        query_db(db, "SELECT rule, group_key, state, count FROM alerts ORDER BY id"),
        out.read_text(),
        read_back,
    )


def test_rules_reading_some_fields_alert_alike_through_the_cli(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "app.jsonl"
    app_log(log)
    narrowed = ingest(tmp_path, log, RULES, "narrowed", True, monkeypatch)
    whole = ingest(tmp_path, log, RULES, "whole", False, monkeypatch)
    assert narrowed[2] and all(keys == {"user", "region", "detail", "status"} for keys in narrowed[2])
    assert whole[2] and all(keys is None for keys in whole[2])
    assert narrowed[:2] == whole[:2]
    notified = [json.loads(line) for line in narrowed[1].splitlines()]
    groups = {(n["rule"], json.dumps(n["group"], sort_keys=True)) for n in notified}
    assert ("mallory_fails", json.dumps({"who": "mallory"})) in groups
    assert ("eu_detail", json.dumps({"detail": '{"zone":"eu-3","ok":false}'})) in groups
    assert ("new_user", json.dumps({"user": "user3"})) in groups
    # A rule reading `fields` whole gets it whole.
    traced = ingest(tmp_path, log, RULES + WHOLE, "traced", True, monkeypatch)
    assert traced[2] and all(keys is None for keys in traced[2])
    assert "traced" in {n["rule"] for n in map(json.loads, traced[1].splitlines())}


def test_read_back_batches_merge_with_a_writers_batch(tmp_path: Path) -> None:
    """Batches queued up together are merged (alerting/runner.py): one read back from the store
    (the rules' columns, `fields` narrowed) and one the writer committed (every column) merge
    into the columns both have, values unchanged (pa.concat_tables refused them)."""
    con = open_for_writing(str(tmp_path / "a.duckdb"))
    writer = LogWriter(con)
    at = 1_780_000_000_000_000

    def batch(first: int) -> list[Record]:
        return [
            Record(
                at + n, at, "/var/log/app.log", None, "json", "info", f"m{n}", {"user": f"u{n}", "x": 1}, "r"
            )
            for n in range(first, first + 3)
        ]

    writer.write(batch(0))
    read_back = stored_columns(con, 1, 3, ["id", "ts", "source", "level", "fields"], ["user"])
    writer.write(batch(3))
    live = writer.last_table
    con.close()
    merged = concat([read_back, live])
    assert merged.column_names == ["id", "ts", "source", "level", "fields"]
    assert merged["id"].to_pylist() == [1, 2, 3, 4, 5, 6]
    assert merged["source"].to_pylist() == ["/var/log/app.log"] * 6
    assert merged["fields"].to_pylist()[2:4] == ['{"user":"u2"}', '{"user":"u3","x":1}']
    assert concat([read_back, read_back]).schema == read_back.schema  # (alike: kept as they are)
