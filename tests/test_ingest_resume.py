"""One-shot `ingest FILE` keeps checkpoints like follow mode: a file is never stored twice.

Real files, the real CLI in a subprocess (and the bulk importer in process for an import cut
short), rows checked in the DuckDB file."""

from __future__ import annotations

import datetime as dt
import gzip
import threading
from pathlib import Path

import pytest
from conftest import query_db, run_cli
from test_tail_support import Tailing, append, seq_lines, stored_raw

from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import SAMPLE_LINES
from logscope.pipeline.bulk import BulkImporter
from logscope.sources.tail.identity import CheckpointBook
from logscope.sources.tail.resume import import_checkpoint
from logscope.store.checkpoints import load_checkpoints
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter


@pytest.mark.slow
def test_importing_a_file_again_stores_nothing_twice_and_says_so(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    append(log, *seq_lines(0, 100))
    assert run_cli("ingest", str(log), "--db", str(db)).returncode == 0
    again = run_cli("ingest", str(log), "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert "ingested 0 lines" in again.stderr
    assert "1 file read before" in again.stderr and "--reread" in again.stderr
    assert stored_raw(db) == seq_lines(0, 100)


@pytest.mark.slow
def test_lines_appended_since_are_the_only_ones_read_and_ids_continue(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    append(log, *seq_lines(0, 10))
    run_cli("ingest", str(log), "--db", str(db))
    append(log, *seq_lines(10, 15))
    result = run_cli("ingest", str(log), "--db", str(db))
    assert "ingested 5 lines" in result.stderr, result.stderr
    assert stored_raw(db) == seq_lines(0, 15)
    assert query_db(db, "SELECT list(id ORDER BY id) FROM logs")[0][0] == list(range(1, 16))
    size = log.stat().st_size
    assert query_db(db, 'SELECT "offset" FROM checkpoints') == [(size,)]


@pytest.mark.slow
def test_reread_reads_whole_files_again(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    append(log, *seq_lines(0, 3))
    run_cli("ingest", str(log), "--db", str(db))
    result = run_cli("ingest", "--reread", str(log), "--db", str(db))
    assert "ingested 3 lines" in result.stderr, result.stderr
    assert stored_raw(db) == seq_lines(0, 3) * 2


@pytest.mark.slow
def test_a_compressed_rotation_of_a_file_read_before_gives_only_its_unread_end(
    tmp_path: Path, db: Path
) -> None:
    log = tmp_path / "app.log"
    append(log, *seq_lines(0, 40))
    run_cli("ingest", str(log), "--db", str(db))
    append(log, *seq_lines(40, 50))  # written after the import, then rotated away compressed
    with open(log, "rb") as plain, gzip.open(tmp_path / "app.log.1.gz", "wb") as packed:
        packed.write(plain.read())
    log.unlink()
    append(log, *seq_lines(50, 52))  # the new file
    result = run_cli("ingest", str(tmp_path / "app.log*"), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert sorted(stored_raw(db)) == sorted(seq_lines(0, 52))


def test_follow_mode_resumes_where_a_one_shot_import_ended(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.log"
    append(log, *seq_lines(0, 30))
    run_cli("ingest", str(log), "--db", str(db))
    append(log, *seq_lines(30, 35))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(5)
        assert tail.settle() == seq_lines(30, 35)
    assert stored_raw(db) == seq_lines(0, 35)


@pytest.mark.slow
def test_the_database_in_an_imported_directory_is_not_read(tmp_path: Path) -> None:
    db = tmp_path / "here.duckdb"
    append(tmp_path / "app.log", *seq_lines(0, 4))
    run_cli("ingest", str(tmp_path), "--db", str(db))
    result = run_cli("ingest", "--reread", str(tmp_path), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert query_db(db, "SELECT DISTINCT source FROM logs") == [(str(tmp_path / "app.log"),)]
    alone = run_cli("ingest", str(db), "--db", str(db))
    assert alone.returncode == 1 and "is the database itself" in alone.stderr


def test_an_import_cut_short_resumes_after_its_last_committed_block(tmp_path: Path) -> None:
    """Every block is committed with the checkpoint past it: stopping after the first block and
    importing again stores each line exactly once (a multiline record across blocks included)."""
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    lines = []
    for number in range(3000):
        lines.append(f"2026-11-26 10:00:{number % 60:02d},000 ERROR boom {number}")
        if number % 7 == 0:
            lines += [
                "Traceback (most recent call last):",
                f'  File "x.py", line {number}, in f',
                "ValueError",
            ]
    append(log, *lines)
    for attempt in range(2):
        con = open_for_writing(str(db))
        book = CheckpointBook(load_checkpoints(con))
        stop = threading.Event()

        def progress(_bytes: int, _lines: int, stop: threading.Event = stop, attempt: int = attempt) -> None:
            if attempt == 0:
                stop.set()  # after the first block

        importer = BulkImporter(LogWriter(con), builtin_registry(dt.UTC))
        result = importer.import_file(
            str(log),
            progress=progress,
            stop=stop,
            block_bytes=16_384,
            checkpoint=import_checkpoint(book, str(log)),
        )
        if attempt == 0:
            assert 0 < result.checkpoint.offset < log.stat().st_size
        con.close()
    assert "\n".join(stored_raw(db)) == "\n".join(lines)
    assert query_db(db, "SELECT count(*) FROM logs WHERE raw LIKE '%Traceback%'") == [(429,)]  # multiline


def _access_line(number: int) -> str:
    return (
        f"10.0.0.{number % 250} - - [26/Nov/2026:10:{number // 60 % 60:02d}:{number % 60:02d} +0000]"
        f' "GET /item/{number} HTTP/1.1" {200 if number % 9 else 503} {number} "-" "curl/8"'
    )


def test_following_starts_with_the_files_read_in_bulk_up_to_their_last_complete_line(tmp_path: Path) -> None:
    """`ingest --follow` and `tail` catch up on the files they find through the bulk fast path,
    then follow from its checkpoint: a line still being written is read whole, once."""
    log, db = tmp_path / "access.log", tmp_path / "db.duckdb"
    lines = [_access_line(number) for number in range(3000)]
    append(log, *lines)
    with open(log, "a") as handle:
        handle.write('10.0.0.9 - - [26/Nov/2026:11:00:00 +0000] "GET /par')  # being written
    with Tailing(db, str(log)) as tail:
        pipeline = tail.pipeline
        tail.wait_for(3000)
        assert tail.settle() == lines  # the partial line waits for its end
        with open(log, "a") as handle:
            handle.write('tial HTTP/1.1" 200 5 "-" "curl/8"\n')
        append(log, _access_line(3000), _access_line(3001))
        tail.wait_for(3003)
    assert pipeline is not None
    # Caught up in bulk: all but the lines that detected the format went the fast way.
    assert [result.fast_records for result in pipeline.bulk_results.values()] == [3000 - SAMPLE_LINES]
    whole = '10.0.0.9 - - [26/Nov/2026:11:00:00 +0000] "GET /partial HTTP/1.1" 200 5 "-" "curl/8"'
    assert stored_raw(db) == [*lines, whole, _access_line(3000), _access_line(3001)]
    assert query_db(db, "SELECT count(*) FROM logs WHERE format = 'nginx_access'") == [(3003,)]
