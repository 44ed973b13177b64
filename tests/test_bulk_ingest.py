"""One-shot `ingest` routes whole files through the bulk fast path, and it is bounded and exact."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import UTC
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, run_cli

from logscope.parsing.registry import FormatRegistry, builtin_registry, load_registry
from logscope.parsing.source_parser import SAMPLE_LINES
from logscope.parsing.vectorized.plans import plan_for
from logscope.parsing.vectorized.re2 import (
    always_participating,
    group_min_widths,
    re2_pattern,
    wrap_nullable,
)
from logscope.pipeline.bulk import BulkImporter
from logscope.pipeline.streaming import Pipeline
from logscope.sources.readers import FileReader
from logscope.store.bulk import checkpoint
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

SQL = "SELECT id, ts, level, message, fields::VARCHAR, raw FROM logs ORDER BY id"


def nginx_lines(count: int) -> list[str]:
    return [
        f"10.1.{i % 200}.{i % 250} - - [26/Nov/2026:03:{i // 60 % 60:02d}:{i % 60:02d} +0100] "
        f'"GET /page/{i} HTTP/1.1" {500 + i % 4 if i % 10 == 0 else 200} {i} "-" "agent {i % 7}"'
        for i in range(count)
    ]


def rows(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute(SQL).fetchall()
    finally:
        con.close()
    return [(*row[:4], json.loads(row[4]) if row[4] else None, row[5]) for row in found]


def streamed_rows(log: Path, db: Path, registry: FormatRegistry) -> list[tuple]:
    """The rows the streaming path (Pipeline + FileReader) stores for `log`, in a new `db`."""
    con = open_for_writing(str(db))
    pipeline = Pipeline(LogWriter(con), registry)
    pipeline.add_source(FileReader(str(log)))
    pipeline.run()
    con.close()
    return rows(db)


def ingest(*args: str) -> subprocess.CompletedProcess:
    return run_cli("ingest", *args, cwd=REPO)


@pytest.mark.slow
def test_cli_fast_path_stores_what_the_streaming_path_stores(tmp_path: Path) -> None:
    """`logscope ingest FILE` (rules on, the default) against the streaming pipeline in process."""
    log = tmp_path / "access.log"
    log.write_text("\n".join(nginx_lines(3000)) + "\n")
    fast = ingest("--db", str(tmp_path / "fast.duckdb"), "--tz", "UTC", str(log))
    assert fast.returncode == 0, fast.stderr
    assert "ingested 3,000 lines" in fast.stderr
    streamed = streamed_rows(log, tmp_path / "streamed.duckdb", load_registry(UTC))
    assert rows(tmp_path / "fast.duckdb") == streamed
    answer = run_cli(
        *("query", "--db", str(tmp_path / "fast.duckdb"), "--csv"),
        "SELECT count(*) FROM nginx_access WHERE status >= 500",
        cwd=REPO,
        timeout=60,
    )
    assert answer.stdout.split()[-1] == "300"


def _seen(records: list) -> list[tuple]:
    return [(r.id, r.ts, r.source, r.host, r.format, r.level, r.message, r.fields, r.raw) for r in records]


def test_subscribers_get_the_records_the_streaming_path_hands_on(tmp_path: Path) -> None:
    """The rule engine subscribes to committed records: the fast path hands on the same ones."""
    log = tmp_path / "access.log"
    lines = nginx_lines(500)
    lines[300:300] = [
        "not a log line",
        "2024-01-02 03:04:05,678 ERROR [main] a.B: boom",
        "\tat a.B(B.java:1)",
    ]
    log.write_text("\n".join(lines) + "\n")
    registry = builtin_registry(UTC)
    seen: dict[str, list] = {"bulk": [], "streaming": []}
    for path in seen:
        con = open_for_writing(str(tmp_path / f"{path}.duckdb"))
        pipeline = Pipeline(LogWriter(con), registry)
        if path == "bulk":
            pipeline.add_bulk_file(str(log))
        else:
            pipeline.add_source(FileReader(str(log)))
        pipeline.subscribe(seen[path].extend)
        summary = pipeline.run()
        con.close()
        assert summary.lines == 502 and pipeline.stats[str(log)].done
    assert _seen(seen["bulk"]) == _seen(seen["streaming"])
    assert [r.id for r in seen["bulk"]] == list(range(1, 503))


def test_pipeline_reports_the_fast_path(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("\n".join(nginx_lines(500)) + "\n")
    con = open_for_writing(str(tmp_path / "a.duckdb"))
    pipeline = Pipeline(LogWriter(con), builtin_registry(UTC))
    pipeline.add_bulk_file(str(log))
    summary = pipeline.run()
    con.close()
    result = pipeline.bulk_results[str(log)]
    assert result.plan is not None and result.plan.startswith("nginx_access")
    assert result.fast_records == 500 - 64  # the first 64 lines decide the format, in Python
    assert summary.lines == 500 and summary.formats["nginx_access"] == 500


def test_blocks_bound_what_is_held_in_memory(tmp_path: Path) -> None:
    """The reader hands over one block at a time; a stop keeps what was read, nothing more."""
    log = tmp_path / "big.log"
    log.write_text("\n".join(nginx_lines(20_000)) + "\n")
    con = open_for_writing(str(tmp_path / "big.duckdb"))
    stop = threading.Event()
    sizes: list[int] = []

    def progress(count_bytes: int, lines: int) -> None:
        sizes.append(lines)
        if len(sizes) == 3:
            stop.set()

    importer = BulkImporter(LogWriter(con), builtin_registry(UTC))
    result = importer.import_file(
        str(log), progress=progress, stop=stop, block_bytes=64 * 1024, commit_rows=1
    )
    stored = con.execute("SELECT count(*) FROM logs").fetchall()[0][0]
    con.close()
    assert max(sizes) < 1000  # 64 KB blocks of ~120-byte lines, each committed
    assert stored == result.records == sum(sizes) < 20_000


def test_plans_refuse_what_they_cannot_read_exactly() -> None:
    registry = builtin_registry(UTC)
    assert isinstance(plan_for(registry.get("json"), UTC), str)  # code parser: streaming path
    assert "multiline" in plan_for(registry.get("log4j"), UTC)
    assert re2_pattern(r"(?P<a>\w+)(?=x)") is None  # lookahead: RE2 has none
    assert re2_pattern(r"(?P<a>a){,3}") is None  # `{,n}` means different things
    assert re2_pattern(r"(\d+) (?P<b>\w+)\Z") == r"^(?:(?:\d+) (?P<b>\w+)\z)"
    assert group_min_widths(r"(?P<a>x*)(?P<b>y+)") == {"a": 0, "b": 1}
    wrapped, names = wrap_nullable(r'^"(?P<a>[^"]*)" (?P<b>\d*)', {"a", "b"})
    assert wrapped == r'^(?P<__w_a>"(?P<a>[^"]*))"(?P<__w_b> (?P<b>\d*))' and names == {"a", "b"}


def test_groups_in_every_match_need_no_wrapper(tmp_path: Path) -> None:
    """A group that may match empty but takes part in every match gets no `__w_` capture (one
    capture less for RE2 on every line), and its empty text is still stored as the streaming
    path stores it, by the fast path."""
    pattern = r"^(?P<x>a*)(?:(?P<y>b*))?(?P<z>c|(?P<w>d*))(?:(?P<v>e*))+(?=(?P<u>f))(?>(?P<t>g*))"
    assert always_participating(pattern) == {"x", "z", "v", "t"}
    registry = builtin_registry(UTC)
    plan = plan_for(registry.get("nginx_access"), UTC)
    assert not isinstance(plan, str)
    assert plan.always == [{"request", "referer", "user_agent"}] and plan.wrapped == [{"extra"}]
    assert "__w_request" not in plan.patterns[0] and "__w_extra" in plan.patterns[0]
    empty = '10.0.0.{i} - - [26/Nov/2026:03:00:{i:02d} +0100] "" 400 0 "" ""'
    lines = nginx_lines(2000) + [empty.format(i=i) for i in range(20)] + nginx_lines(30)
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    con = open_for_writing(str(tmp_path / "bulk.duckdb"))
    result = BulkImporter(LogWriter(con), registry).import_file(str(log))
    con.close()
    assert result.records == 2050 and result.formats == {"nginx_access": 2050}
    # Every line after the sampled ones, the empty groups too, is read by the plan, not Python.
    assert result.fast_records == 2050 - SAMPLE_LINES
    stored = rows(tmp_path / "bulk.duckdb")
    assert stored == streamed_rows(log, tmp_path / "stream.duckdb", registry)
    # (nginx_access reads '' as no value, as its null_values say: the keys are left out)
    assert stored[2000][4]["client"] == "10.0.0.0" and "request" not in stored[2000][4]


@pytest.mark.parametrize("zone", ["UTC", "+05:30"])
@pytest.mark.slow
def test_times_in_a_fixed_zone_are_planned(zone: str, tmp_path: Path) -> None:
    """Naive times (nginx_error) read in a fixed --tz zone, through the real CLI both ways."""
    log = tmp_path / "error.log"
    lines = [
        f"2026/11/{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} [error] 123#0: *{i} boom {i}"
        for i in range(300)
    ]
    log.write_text("\n".join(lines) + "\n")
    tz = "UTC" if zone == "UTC" else "Asia/Kolkata"
    fast = ingest("--db", str(tmp_path / "f.duckdb"), "--tz", tz, "--no-default-rules", str(log))
    slow = ingest("--db", str(tmp_path / "s.duckdb"), "--tz", tz, str(log))
    assert fast.returncode == 0 and slow.returncode == 0, fast.stderr + slow.stderr
    assert rows(tmp_path / "f.duckdb") == rows(tmp_path / "s.duckdb")


def test_a_plan_that_reads_few_lines_is_dropped(tmp_path: Path) -> None:
    """Detection settles on nginx, then the file turns to syslog: blocks go to the streaming parser."""
    syslog = [f"Nov 26 03:{i // 60 % 60:02d}:{i % 60:02d} web-1 cron[{i}]: job {i} done" for i in range(3000)]
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(nginx_lines(100) + syslog) + "\n")
    registry = builtin_registry(UTC)
    con = open_for_writing(str(tmp_path / "bulk.duckdb"))
    result = BulkImporter(LogWriter(con), registry).import_file(str(log), block_bytes=64 * 1024)
    con.close()
    assert result.plan is not None and result.plan.startswith("none (")  # was "nginx_access"
    assert result.formats["nginx_access"] == 100 and result.records == 3100

    assert rows(tmp_path / "bulk.duckdb") == streamed_rows(log, tmp_path / "stream.duckdb", registry)


def test_plans_follow_the_order_formats_are_tried(tmp_path: Path) -> None:
    """A syslog file with some sshd lines: openssh is tried first, bsd_syslog takes what it refuses."""
    lines = []
    for i in range(2000):
        stamp = f"Nov 26 03:{i // 60 % 60:02d}:{i % 60:02d}"
        if i % 5 == 0:
            lines.append(
                f"{stamp} web-1 sshd[{100 + i}]: Accepted publickey for deploy from 10.0.0.{i % 250}"
            )
        else:
            lines.append(f"{stamp} web-1 cron[{100 + i}]: job {i} done")
    log = tmp_path / "syslog"
    log.write_text("\n".join(lines) + "\n")
    registry = builtin_registry(UTC)
    con = open_for_writing(str(tmp_path / "bulk.duckdb"))
    result = BulkImporter(LogWriter(con), registry).import_file(str(log))
    con.close()
    assert result.plan == "openssh, bsd_syslog, syslog"  # the third, per line, takes nothing here
    assert result.fast_records == 2000 - 64
    assert result.formats == {"openssh": 400, "bsd_syslog": 1600}

    assert rows(tmp_path / "bulk.duckdb") == streamed_rows(log, tmp_path / "stream.duckdb", registry)


def test_stored_columns_come_in_event_time_order(tmp_path: Path) -> None:
    """The rules' read-back of a block: sorted by (ts, id) whether or not the file was."""
    from logscope.store.bulk import stored_columns

    lines = nginx_lines(300)
    lines[100], lines[200] = lines[200], lines[100]  # a block out of time order
    lines[150] = lines[151]  # two records at the same instant
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    con = open_for_writing(str(tmp_path / "a.duckdb"))
    BulkImporter(LogWriter(con), builtin_registry(UTC)).import_file(str(log))
    expected = con.execute("SELECT id, ts, message FROM logs WHERE id BETWEEN 5 AND 290 ORDER BY ts, id")
    want = expected.fetchall()
    table = stored_columns(con, 5, 290, ["message", "ts", "id"])
    in_order = stored_columns(con, 5, 90, ["id"])
    con.close()
    assert table.column_names == ["message", "ts", "id"]
    assert list(zip(table["id"].to_pylist(), table["message"].to_pylist(), strict=True)) == [
        (row[0], row[2]) for row in want
    ]
    assert in_order["id"].to_pylist() == list(range(5, 91))


def test_import_settings_hold_only_while_the_import_runs(tmp_path: Path) -> None:
    """The import caps DuckDB's memory and threads while it runs; the connection's own settings
    come back after it, also when the import fails."""
    log = tmp_path / "access.log"
    log.write_text("\n".join(nginx_lines(500)) + "\n")
    con = open_for_writing(str(tmp_path / "a.duckdb"))
    con.execute("SET threads = 3")
    con.execute("SET memory_limit = '512MiB'")  # (shown as set: restored exactly)
    settings = "SELECT current_setting('threads'), current_setting('memory_limit')"
    before = con.execute(settings).fetchall()
    importer = BulkImporter(LogWriter(con), builtin_registry(UTC))
    during = []
    importer.import_file(str(log), progress=lambda *_: during.append(con.execute(settings).fetchall()))
    after_import = con.execute(settings).fetchall()
    with pytest.raises(FileNotFoundError):
        importer.import_file(str(tmp_path / "missing.log"))
    after_failure = con.execute(settings).fetchall()
    stored = con.execute("SELECT count(*) FROM logs").fetchall()[0][0]
    con.close()
    assert during and all(row == [(1, "122.0 MiB")] for row in during), during  # 128MB
    assert after_import == after_failure == before
    assert before[0][0] == 3
    assert stored == 500


def test_the_import_checkpoints_what_it_wrote_while_its_memory_cap_holds(tmp_path: Path) -> None:
    """The import's rows leave the write-ahead log before its memory limit is lifted: a commit
    after it (an alert, a marker) would otherwise checkpoint them uncapped (300-400 MB more)."""
    log = tmp_path / "access.log"
    log.write_text("\n".join(nginx_lines(3000)) + "\n")
    path = tmp_path / "a.duckdb"
    con = open_for_writing(str(path))
    wal = Path(f"{path}.wal")
    importer = BulkImporter(LogWriter(con), builtin_registry(UTC))
    logged = []
    importer.import_file(str(log), progress=lambda *_: logged.append(wal.exists() and wal.stat().st_size))
    after = wal.exists() and wal.stat().st_size
    stored = con.execute("SELECT count(*) FROM logs").fetchall()[0][0]
    con.close()
    assert stored == 3000
    assert logged and logged[-1] > 0  # (written to the log as it came)
    assert not after


def test_the_import_checkpoint_waits_for_another_connections_write(tmp_path: Path) -> None:
    """A write transaction open elsewhere when the import ends (the pattern miner commits a block
    every few tenths of a second beside it) makes DuckDB decline a CHECKPOINT: the import tries
    again until it runs, so its rows still leave the write-ahead log under its memory cap."""
    log = tmp_path / "access.log"
    log.write_text("\n".join(nginx_lines(3000)) + "\n")
    path = tmp_path / "a.duckdb"
    con = open_for_writing(str(path))
    other = con.cursor()
    other.execute("CREATE TABLE side (x INTEGER PRIMARY KEY, y INTEGER)")
    wal = Path(f"{path}.wal")
    held: list[threading.Timer] = []

    def hold_a_write(*_: int) -> None:  # after each block's commit
        if not held:  # (an upsert, as the miner's: a plain INSERT does not hold a CHECKPOINT off)
            other.begin()
            other.execute("INSERT OR REPLACE INTO side VALUES (1, 2)")
            held.append(threading.Timer(0.3, other.commit))
            held[0].start()

    BulkImporter(LogWriter(con), builtin_registry(UTC)).import_file(str(log), progress=hold_a_write)
    after = wal.exists() and wal.stat().st_size
    held[0].join()
    stored = con.execute("SELECT count(*) FROM logs").fetchall()[0][0]
    side = con.execute("SELECT count(*) FROM side").fetchall()[0][0]
    con.close()
    assert (stored, side) == (3000, 1)
    assert not after


def test_the_checkpoint_gives_up_after_its_wait(tmp_path: Path) -> None:
    """A write transaction that stays open is not waited for longer than asked."""
    con = open_for_writing(str(tmp_path / "a.duckdb"))
    other = con.cursor()
    other.execute("CREATE TABLE side (x INTEGER PRIMARY KEY, y INTEGER)")
    other.begin()
    other.execute("INSERT OR REPLACE INTO side VALUES (1, 2)")
    started = time.monotonic()
    declined = checkpoint(con, wait=0.2)
    waited = time.monotonic() - started
    other.commit()
    ran = checkpoint(con, wait=0.2)
    con.close()
    assert (declined, ran) == (False, True)
    assert 0.2 <= waited < 1.5
