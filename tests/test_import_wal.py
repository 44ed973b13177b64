"""A bulk import keeps DuckDB's write-ahead log bounded beside the pattern miner and readers, and a
`kill -9` in its middle loses and repeats nothing (issue 17; docs/benchmarks.md, "Bulk import fast
path", eighth round)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

from conftest import REPO, cli_env, query_db, run_cli_process
from test_bulk_ingest import nginx_lines

from logscope.parsing.registry import builtin_registry
from logscope.patterns.background import BackgroundMining
from logscope.pipeline.bulk import BulkImporter
from logscope.sources.tail.identity import CheckpointBook
from logscope.sources.tail.resume import import_checkpoint
from logscope.store.bulk import IMPORT_CHECKPOINT_SCALE
from logscope.store.checkpoints import load_checkpoints
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

sys.path.insert(0, str(REPO / "bench"))
from import_speed import FileSizeSampler

BLOCK_BYTES = 64 << 10
SETTING = 256 << 10  # the connection's wal_autocheckpoint in the test
THRESHOLD = IMPORT_CHECKPOINT_SCALE * SETTING  # where the import checkpoints
# A 64 KiB block of these lines adds ~270 KB to the log (raw, message, fields, the mined patterns).
BLOCK_IN_LOG = 5 * BLOCK_BYTES


def test_the_write_ahead_log_stays_bounded_beside_the_miner_and_a_reader(tmp_path: Path) -> None:
    """With the miner mining each block beside the import and a reader's transaction open all
    along (a query, the TUI), the log holds at most the import's threshold plus one block's rows,
    read after each block and every 2 ms. Before, every commit of the import updated its
    checkpoint row, and DuckDB refuses the automatic checkpoint of a commit that updated rows
    while another transaction is open: the log kept the whole import (11 MB here, 130 MB for a
    million nginx lines)."""
    log, path = tmp_path / "access.log", tmp_path / "a.duckdb"
    log.write_text("\n".join(nginx_lines(30_000)) + "\n")
    con = open_for_writing(str(path))
    con.execute(f"SET wal_autocheckpoint = '{SETTING // 1024}KiB'")
    mining = BackgroundMining(con, on_error=lambda message: None, round_seconds=0.0)
    reader = con.cursor()
    reader.begin()
    reader.execute("SELECT count(*) FROM logs").fetchall()
    wal = Path(f"{path}.wal")
    sizes: list[int] = []
    sampler = FileSizeSampler(wal, interval=0.002)

    def after_block(*_: int) -> None:
        sizes.append(wal.stat().st_size if wal.exists() else 0)
        mining.wake()

    book = CheckpointBook(load_checkpoints(con))
    importer = BulkImporter(LogWriter(con), builtin_registry(UTC))
    importer.import_file(
        str(log),
        progress=after_block,
        block_bytes=BLOCK_BYTES,
        checkpoint=import_checkpoint(book, str(log)),
        commit_rows=1,  # each block its own transaction, its rows through the log
    )
    peak = sampler.stop() * 1e6
    reader.commit()
    mining.close()
    stored = con.execute("SELECT count(*), count(DISTINCT raw) FROM logs").fetchall()
    mined = con.execute("SELECT count(*) FROM record_patterns").fetchall()
    restored = con.execute("SELECT current_setting('wal_autocheckpoint')").fetchall()
    con.close()
    assert restored == [("256.0 KiB",)]  # off during the import only
    assert stored == [(30_000, 30_000)]
    assert mined == [(30_000,)]
    assert len(sizes) > 20
    assert THRESHOLD // 2 < max(sizes) < THRESHOLD, sizes  # it grew, and was checkpointed at its threshold
    assert peak <= THRESHOLD + BLOCK_IN_LOG, (peak, sizes)


def test_kill_9_in_the_middle_of_an_import_then_ingest_again_stores_every_line_once(
    tmp_path: Path,
) -> None:
    """`ingest` killed while it writes (the sampled lines committed, a transaction of blocks
    writing its row groups to the database file, the miner beside it), then run again: the
    second run replays the log, resumes after the last committed block and stores every line
    exactly once, in order; the patterns cover them all."""
    log, db = tmp_path / "access.log", tmp_path / "db.duckdb"
    lines = nginx_lines(150_000)
    log.write_text("\n".join(lines) + "\n")
    command = [sys.executable, "-m", "logscope", "ingest", "-q", "--db", str(db), str(log)]
    process = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    # The import's transaction writes its full row groups to the database file as it goes.
    while not (db.exists() and db.stat().st_size > 4 << 20) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert running, "the import ended before the kill"
    again = run_cli_process("ingest", "-q", "--db", str(db), str(log))
    assert again.returncode == 0, again.stderr
    stored = [row[0] for row in query_db(db, "SELECT raw FROM logs ORDER BY id")]
    assert len(stored) == len(lines)
    assert stored == lines
    ids = query_db(db, "SELECT min(id), max(id), count(DISTINCT id) FROM logs")
    assert ids == [(1, len(lines), len(lines))]
    mined = query_db(db, "SELECT count(*), count(DISTINCT id) FROM record_patterns")
    assert mined == [(len(lines), len(lines))]
    assert query_db(db, "SELECT sum(count) FROM patterns WHERE merged_into IS NULL") == [(len(lines),)]


def test_a_transaction_of_row_groups_keeps_its_rows_out_of_the_log(tmp_path: Path) -> None:
    """With the default commits, a transaction spans blocks until it holds a row group and more:
    DuckDB writes its row groups to the database file, the log holds only where they are (a few
    KB for 20 MB of rows), no checkpoint copies them, and no block of the file is left free.
    Subscribers get each block's records once committed, in order."""
    log, path = tmp_path / "access.log", tmp_path / "a.duckdb"
    lines = nginx_lines(130_000)
    log.write_text("\n".join(lines) + "\n")
    con = open_for_writing(str(path))
    wal = Path(f"{path}.wal")
    sampler = FileSizeSampler(wal, interval=0.002)
    handed: list[tuple[int, int, int]] = []  # first id, last id, committed rows seen then

    def on_records(records) -> None:
        committed = con.cursor().execute("SELECT count(*) FROM logs").fetchall()[0][0]
        handed.append((records[0].id, records[-1].id, committed))

    result = BulkImporter(LogWriter(con), builtin_registry(UTC)).import_file(
        str(log), block_bytes=1 << 20, on_records=on_records
    )
    peak = sampler.stop()
    stored = con.execute("SELECT count(*), min(id), max(id) FROM logs").fetchall()
    free = con.execute("SELECT free_blocks FROM pragma_database_size()").fetchall()
    con.close()
    assert result.records == len(lines)
    assert stored == [(len(lines), 1, len(lines))]
    assert peak * 1e6 < 1 << 20, peak  # not the rows (a block alone logs ~5 MB)
    assert free == [(0,)]
    assert len(handed) > 10  # a block at a time
    assert [first for first, _, _ in handed] == [1] + [last + 1 for _, last, _ in handed[:-1]]
    assert handed[-1][1] == len(lines)
    assert all(committed >= last for _, last, committed in handed)


def test_rows_too_wide_to_wait_for_a_row_group_are_committed_a_block_at_a_time(tmp_path: Path) -> None:
    """A row group of 2 KB lines is ~250 MB that DuckDB would hold in memory until it fills: such
    rows are committed a block at a time (MAX_HELD_BYTES), where narrow rows wait for one."""
    handed: dict[str, list[tuple[int, int]]] = {}
    for kind, width, count in (("wide", 2000, 20_000), ("narrow", 0, 130_000)):
        log, path = tmp_path / f"{kind}.log", tmp_path / f"{kind}.duckdb"
        lines = [line + " " + "x" * width if width else line for line in nginx_lines(count)]
        log.write_text("\n".join(lines) + "\n")
        con = open_for_writing(str(path))
        seen = handed[kind] = []  # the last id handed on, the rows committed then

        def on_records(records, con=con, seen=seen) -> None:
            committed = con.cursor().execute("SELECT count(*) FROM logs").fetchall()[0][0]
            seen.append((records[-1].id, committed))

        BulkImporter(LogWriter(con), builtin_registry(UTC)).import_file(
            str(log), block_bytes=1 << 20, on_records=on_records
        )
        assert con.execute("SELECT count(*) FROM logs").fetchall() == [(len(lines),)]
        con.close()
    assert len(handed["wide"]) > 30
    assert all(committed == last for last, committed in handed["wide"])  # each block its own
    assert any(committed > last for last, committed in handed["narrow"])  # blocks spanned
