"""Following files: growth, restarts, truncation, delete-and-recreate, partial lines, symlinks, globs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import query_db
from test_tail_support import Tailing, append, seq_lines, stored_raw


def test_appended_lines_are_read_and_a_restart_resumes_where_it_stopped(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 100))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(100)
        append(log, *seq_lines(100, 200))
        tail.wait_for(200)
    append(log, *seq_lines(200, 250))  # written while nobody follows
    with Tailing(db, str(log)) as tail:
        tail.wait_for(50)
        assert tail.settle() == seq_lines(200, 250)
    assert stored_raw(db) == seq_lines(0, 250)


def test_from_end_skips_existing_lines_but_never_lines_written_while_stopped(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 10))
    with open(log, "a") as handle:
        handle.write("half a line")  # --from-end starts after the last complete line
    with Tailing(db, str(log), from_start=False) as tail:
        assert tail.settle() == []
        append(log, " completed", *seq_lines(10, 20))
        tail.wait_for(11)
    append(log, *seq_lines(20, 30))
    with Tailing(db, str(log), from_start=False) as tail:
        tail.wait_for(10)
    assert stored_raw(db) == ["half a line completed", *seq_lines(10, 30)]


def test_truncation_in_place_reads_the_new_content_from_its_start(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 50))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(50)
        with open(log, "w") as handle:  # truncate, then the writer goes on
            handle.write("".join(f"{line}\n" for line in seq_lines(50, 55)))
        tail.wait_for(55)
        append(log, *seq_lines(55, 60))
        tail.wait_for(60)
    assert stored_raw(db) == seq_lines(0, 60)


def test_truncated_and_regrown_past_the_old_size_is_still_noticed(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 5))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(5)
        tail.stop()
        # While stopped: truncated and rewritten longer than before (same size check would miss it).
        with open(log, "w") as handle:
            handle.write("".join(f"{line}\n" for line in seq_lines(5, 20, tag="seq")))
        tail.start()
        tail.wait_for(15)
    assert stored_raw(db) == seq_lines(0, 20)


def test_delete_and_recreate_reads_both_files_once(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 20))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(20)
        os.unlink(log)
        append(log, *seq_lines(20, 40))
        tail.wait_for(40)
        append(log, *seq_lines(40, 45))
        tail.wait_for(45)
        assert tail.settle() == seq_lines(0, 45)
        assert tail.errors == []  # a file vanishing is rotation, not a problem
    assert stored_raw(db) == seq_lines(0, 45)


def test_a_partial_last_line_is_held_until_its_newline_arrives(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, "first")
    with Tailing(db, str(log)) as tail:
        tail.wait_for(1)
        with open(log, "a") as handle:
            handle.write("second, written in")
        assert tail.settle() == ["first"]
        with open(log, "a") as handle:
            handle.write(" two parts\nthird\n")
        tail.wait_for(3)
    assert stored_raw(db) == ["first", "second, written in two parts", "third"]


def test_a_partial_line_is_emitted_after_the_quiet_time(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    with open(log, "w") as handle:
        handle.write("no newline yet")
    with Tailing(db, str(log), partial_flush_seconds=0.4) as tail:
        assert tail.wait_for(1) == ["no newline yet"]
        append(log, "next")
        tail.wait_for(2)
    assert stored_raw(db) == ["no newline yet", "next"]


def test_a_partial_line_at_shutdown_is_read_whole_by_the_next_run(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, "one")
    with open(log, "a") as handle:
        handle.write("two be")
    with Tailing(db, str(log)) as tail:
        tail.wait_for(1)
        tail.settle(0.3)
    with open(log, "a") as handle:
        handle.write("gun before the stop\n")
    with Tailing(db, str(log)) as tail:
        tail.wait_for(1)
    assert stored_raw(db) == ["one", "two begun before the stop"]


def _linked_logs(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """a.log with 10 lines, current.log linked to it, b.log to come, and the database."""
    first, second, link = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "current.log"
    append(first, *seq_lines(0, 10))
    link.symlink_to(first)
    return first, second, link, tmp_path / "db.duckdb"


def _repoint(link: Path, target: Path) -> None:
    """Point the link at `target` atomically, as deploy tools do."""
    swap = link.with_name("swap.log")
    swap.symlink_to(target)
    os.replace(swap, link)


def test_a_symlink_swapped_to_a_new_target_follows_it_and_finishes_the_old_one(tmp_path: Path) -> None:
    first, second, link, db = _linked_logs(tmp_path)
    with Tailing(db, str(link)) as tail:
        tail.wait_for(10)
        tail.settle()  # the 10 lines came from the bulk catch-up: let the follower take over
        append(second, *seq_lines(20, 30))
        _repoint(link, second)
        append(first, *seq_lines(10, 20))  # a late line for the old target is still read
        tail.wait_for(30)
        append(second, *seq_lines(30, 35))
        tail.wait_for(35)
    assert sorted(stored_raw(db)) == seq_lines(0, 35)
    sources = {row[0] for row in query_db(db, "SELECT DISTINCT source FROM logs")}
    assert sources == {str(link)}


@pytest.mark.slow
def test_an_idle_file_renamed_after_a_restart_still_gets_its_late_lines_read(tmp_path: Path) -> None:
    """The quiet time of a renamed file counts from the rename, not from its last growth."""
    first, second, link, db = _linked_logs(tmp_path)
    with Tailing(db, str(link)) as tail:
        tail.wait_for(10)
    with Tailing(db, str(link), rotate_wait_seconds=2.0) as tail:
        tail.settle(2.5)  # idle for longer than the quiet time
        append(second, *seq_lines(20, 30))
        _repoint(link, second)
        tail.wait_for(10)  # the new target is followed: the old one is detached by now
        append(first, *seq_lines(10, 20))  # a late line for the old target
        tail.wait_for(20)
    assert sorted(stored_raw(db)) == seq_lines(0, 30)


def test_globs_pick_up_files_that_appear_later_at_any_depth(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    logs = tmp_path / "logs"
    (logs / "a").mkdir(parents=True)
    append(logs / "a" / "one.log", "one-1")
    append(logs / "a" / "ignored.txt", "not a log")
    with Tailing(db, str(logs / "**" / "*.log")) as tail:
        tail.wait_for(1)
        (logs / "b" / "c").mkdir(parents=True)
        append(logs / "b" / "c" / "deep.log", "deep-1")
        append(logs / "top.log", "top-1")
        tail.wait_for(3)
        append(logs / "b" / "c" / "deep.log", "deep-2")
        tail.wait_for(4)
        assert sorted(tail.settle()) == ["deep-1", "deep-2", "one-1", "top-1"]
    sources = {row[0] for row in query_db(db, "SELECT DISTINCT source FROM logs")}
    assert sources == {str(logs / "a" / "one.log"), str(logs / "b" / "c" / "deep.log"), str(logs / "top.log")}


def test_a_directory_argument_follows_every_file_below_it(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "x.log", "x-1")
    with Tailing(db, str(logs)) as tail:
        tail.wait_for(1)
        append(logs / "y.log", "y-1")
        tail.wait_for(2)
    assert sorted(stored_raw(db)) == ["x-1", "y-1"]


def test_files_appearing_while_following_are_read_from_their_start_even_with_from_end(
    tmp_path: Path,
) -> None:
    db = tmp_path / "db.duckdb"
    append(tmp_path / "old.log", "old-1")
    with Tailing(db, str(tmp_path / "*.log"), from_start=False) as tail:
        tail.settle(0.3)
        append(tmp_path / "new.log", "new-1", "new-2")
        tail.wait_for(2)
        assert tail.settle() == ["new-1", "new-2"]


def test_growth_is_noticed_by_inotify_write_events_when_the_sweep_is_off(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    # A poll far away: only the write events can wake the reader in time. (20 s, not less: a
    # loaded CI machine may take seconds to schedule the reader; the poll would take 60.)
    with Tailing(db, str(log), growth_sweep_seconds=None, poll_seconds=60) as tail:
        append(log, *seq_lines(0, 10))
        tail.wait_for(10, timeout=20)
        os.rename(log, tmp_path / "app.log.1")
        append(log, *seq_lines(10, 20))
        tail.wait_for(20, timeout=20)
    assert stored_raw(db) == seq_lines(0, 20)


def test_a_reused_inode_is_told_apart_by_the_fingerprint(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 40, tag="old"))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(40)
    # While stopped: the file is deleted, and a new file gets its inode (filesystems hand a freed
    # inode to a later new file: create files until one has it, then make it app.log).
    reused = log.stat().st_ino
    log.unlink()
    for index in range(500):
        candidate = tmp_path / f"candidate-{index}"
        candidate.touch()
        if candidate.stat().st_ino == reused:
            candidate.rename(log)
            break
    else:
        pytest.skip("this filesystem did not reuse the inode")
    append(log, *seq_lines(0, 60, tag="new"))
    with Tailing(db, str(log)) as tail:
        tail.wait_for(60)
        assert tail.settle() == seq_lines(0, 60, tag="new")  # all of it: not resumed at offset 40


def test_a_file_deleted_while_its_writer_goes_on_is_read_to_its_end(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    with open(log, "a", buffering=1) as writer, Tailing(db, str(log)) as tail:
        writer.write("".join(f"{line}\n" for line in seq_lines(0, 50)))
        tail.wait_for(50)
        log.unlink()  # vanishes; the writer still has it open and goes on
        writer.write("".join(f"{line}\n" for line in seq_lines(50, 100)))
        tail.wait_for(100)
        assert tail.errors == []
    assert stored_raw(db) == seq_lines(0, 100)
