"""Rotation done by hand, step by step: rename, gzip, copy-and-truncate, also while stopped."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
from conftest import query_db
from test_tail_support import Tailing, append, seq_lines, stored_raw


def gzip_away(path: Path, target: Path) -> None:
    """What logrotate's `compress` does: write target.gz, remove the plain file."""
    with open(path, "rb") as plain, gzip.open(target, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    os.unlink(path)


def test_rename_and_create_reads_late_lines_of_the_old_file_and_all_of_the_new(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 10))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(10)
        os.rename(log, tmp_path / "app.log.1")
        append(log, *seq_lines(20, 25))
        append(tmp_path / "app.log.1", *seq_lines(10, 20))  # the writer has not reopened yet
        tail.wait_for(25)
        assert sorted(tail.settle()) == seq_lines(0, 25)
    assert sorted(stored_raw(db)) == seq_lines(0, 25)
    assert {row[0] for row in query_db(db, "SELECT DISTINCT source FROM logs")} == {str(log)}


@pytest.mark.slow
def test_a_gzipped_rotation_matched_by_the_glob_is_recognized_and_not_read_again(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 40))
    with Tailing(db, str(tmp_path / "app.log*")) as tail:
        tail.wait_for(40)
        os.rename(log, tmp_path / "app.log.1")
        append(log, *seq_lines(40, 50))
        tail.wait_for(50)
        gzip_away(tmp_path / "app.log.1", tmp_path / "app.log.1.gz")
        append(log, *seq_lines(50, 60))
        tail.wait_for(60)
        assert sorted(tail.settle(1.5)) == seq_lines(0, 60)
    with Tailing(db, str(tmp_path / "app.log*")) as tail:
        assert tail.settle(1.0) == []  # a restart reads neither the .gz nor the live file again
    assert sorted(stored_raw(db)) == seq_lines(0, 60)


@pytest.mark.slow
def test_a_gz_rotation_seen_first_after_a_restart_is_read_from_its_checkpoint(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 30))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(30)
    # While stopped: more lines, then rotation with compression, then a new file.
    append(log, *seq_lines(30, 45))
    os.rename(log, tmp_path / "app.log.1")
    gzip_away(tmp_path / "app.log.1", tmp_path / "app.log.1.gz")
    append(log, *seq_lines(45, 50))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(20)
        assert sorted(tail.settle()) == seq_lines(30, 50)
    assert sorted(stored_raw(db)) == seq_lines(0, 50)


@pytest.mark.slow
def test_a_gz_file_never_seen_is_read_once_whole(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    with gzip.open(tmp_path / "old.log.gz", "wt") as packed:
        packed.write("".join(f"{line}\n" for line in seq_lines(0, 25)))
    with Tailing(db, str(tmp_path / "*.gz")) as tail:
        tail.wait_for(25)
        assert len(tail.settle(1.0)) == 25  # polls do not read it again
    with Tailing(db, str(tmp_path / "*.gz")) as tail:
        assert tail.settle(0.8) == []
    assert stored_raw(db) == seq_lines(0, 25)


@pytest.mark.slow
def test_rename_and_create_while_stopped_is_caught_up_from_the_rotated_file(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 10))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(10)
    append(log, *seq_lines(10, 20))
    os.rename(log, tmp_path / "app.log-20240101")
    append(log, *seq_lines(20, 30))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(20)
        assert sorted(tail.settle()) == seq_lines(10, 30)
    assert sorted(stored_raw(db)) == seq_lines(0, 30)


def test_copytruncate_while_stopped_reads_the_rest_from_the_copy(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 10))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(10)
    append(log, *seq_lines(10, 20))
    shutil.copyfile(log, tmp_path / "app.log.1")
    with open(log, "r+") as handle:
        handle.truncate(0)
    append(log, *seq_lines(20, 25))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(15)
        assert sorted(tail.settle()) == seq_lines(10, 25)
    assert sorted(stored_raw(db)) == seq_lines(0, 25)


def test_copytruncate_while_following_reads_unread_lines_from_the_copy(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 10))
    # Lines 10-19 may or may not be read before the truncation: either way they are read once.
    with Tailing(db, str(log)) as tail:
        tail.wait_for(10)
        with open(log, "a") as handle:
            handle.write("".join(f"{line}\n" for line in seq_lines(10, 20)))
            handle.flush()
            shutil.copyfile(log, tmp_path / "app.log.1")
            handle.truncate(0)
            handle.write("".join(f"{line}\n" for line in seq_lines(20, 25)))
        tail.wait_for(25)
        assert sorted(tail.settle()) == seq_lines(0, 25)
    assert sorted(stored_raw(db)) == seq_lines(0, 25)


@pytest.mark.slow
def test_from_end_still_reads_a_file_that_replaced_a_followed_one_while_stopped(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 10))
    with Tailing(db, str(log), from_start=False) as tail:
        assert tail.settle(0.5) == []  # started at the end
        append(log, *seq_lines(10, 20))
        tail.wait_for(10)
    append(log, *seq_lines(20, 25))
    os.rename(log, tmp_path / "app.log.1")  # rotated while stopped: the new file is not "new to us"
    append(log, *seq_lines(25, 30))
    with Tailing(db, str(log), from_start=False) as tail:
        tail.wait_for(10)
        assert sorted(tail.settle()) == seq_lines(20, 30)
    assert sorted(stored_raw(db)) == seq_lines(10, 30)
