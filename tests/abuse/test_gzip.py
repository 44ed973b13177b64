"""Issue 22, case 1: a truncated or corrupt `.gz` is read to its last recoverable line, the damage
is reported once (one line naming the file), the checkpoint never moves back, nothing is stored
twice, and the counts are right. The real CLI on real files, rows read from the DuckDB file."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import query_db, run_cli
from server_helpers import follow_until_stored

from logscope.sources.compressed import CompressedReader


def lines_of(count: int, start: int = 0) -> bytes:
    return b"".join(f"gz line {i} padding {i * 7}\n".encode() for i in range(start, start + count))


def truncated_gz(path: Path, count: int) -> bytes:
    """The issue's reproduction at a smaller size: a gzip file cut in half."""
    packed = gzip.compress(lines_of(count))
    path.write_bytes(packed[: len(packed) // 2])
    return packed


def recoverable_lines(path: Path) -> int:
    """Complete lines zcat recovers from the file (its own count, not ours)."""
    done = subprocess.run(["zcat", str(path)], capture_output=True)
    return done.stdout.count(b"\n")


def stored(db: Path) -> tuple[int, int, int]:
    """Rows, distinct messages, and the stored checkpoint offset."""
    rows, distinct = query_db(db, "SELECT count(*), count(DISTINCT message) FROM logs")[0]
    offsets = query_db(db, 'SELECT max("offset") FROM checkpoints')
    return rows, distinct, offsets[0][0] or 0


def assert_one_damage_line(stderr: str, path: Path) -> None:
    assert "Traceback" not in stderr and "terminate called" not in stderr, stderr
    damage = [line for line in stderr.splitlines() if "compressed data ends early" in line]
    assert len(damage) == 1, stderr
    assert damage[0].startswith(f"logscope: error: {path}: "), damage


@pytest.mark.slow
def test_truncated_gz_is_read_to_its_last_line_once_across_runs(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "t.log.gz"
    truncated_gz(path, 200_000)
    expected = recoverable_lines(path)
    assert expected > 90_000  # about half of the lines survive the cut
    offsets = []
    for run in range(4):
        started = time.monotonic()
        result = run_cli("ingest", "--db", str(db), str(path))
        assert time.monotonic() - started < 60
        assert result.returncode == 1, result  # the file is damaged: an error, but no crash
        assert_one_damage_line(result.stderr, path)
        rows, distinct, offset = stored(db)
        assert rows == distinct == expected, (run, rows, distinct, expected)
        offsets.append(offset)
        said = f"ingested {expected:,} lines" if run == 0 else "ingested 0 lines"
        assert said in result.stderr, result.stderr
    # The checkpoint ends after the last complete line and never moves back.
    assert offsets == [len(lines_of(expected))] * 4


@pytest.mark.slow
def test_truncated_gz_with_the_default_rules_never_aborts(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "t.log.gz"
    truncated_gz(path, 60_000)
    expected = recoverable_lines(path)
    for _ in range(3):
        result = run_cli("ingest", "--db", str(db), str(path))
        assert result.returncode == 1, result
        assert "connection is busy" not in result.stderr, result.stderr
        assert_one_damage_line(result.stderr, path)
    assert stored(db)[:2] == (expected, expected)


@pytest.mark.slow
def test_a_completed_gz_goes_on_from_the_checkpoint(tmp_path: Path, db: Path) -> None:
    """The cut-off partial line is not stored: once the whole file is there, it is read whole."""
    path = tmp_path / "app.log.gz"
    packed = truncated_gz(path, 50_000)
    result = run_cli("ingest", "--db", str(db), str(path))
    assert result.returncode == 1
    path.write_bytes(packed)  # the same content, complete now (a copy that had not finished)
    result = run_cli("ingest", "--db", str(db), str(path))
    assert result.returncode == 0, result.stderr
    assert stored(db)[:2] == (50_000, 50_000)


@pytest.mark.slow
def test_corrupt_middle_keeps_what_came_before(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "bad.log.gz"
    packed = bytearray(gzip.compress(lines_of(100_000)))
    middle = len(packed) // 2
    packed[middle : middle + 64] = bytes(64)  # zeroed bytes inside the deflate stream
    path.write_bytes(bytes(packed))
    result = run_cli("ingest", "--db", str(db), str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("logscope: error:")]
    assert len(errors) == 1 and str(path) in errors[0], result.stderr
    # Zeroed deflate bytes may decode to some garbage (copies of earlier lines) before zlib
    # notices; the lines before the damage are all there, each once.
    before = query_db(
        db,
        "SELECT count(*), count(DISTINCT message) FROM logs, range(40000) AS r(n)"
        " WHERE message = format('gz line {} padding {}', n, n * 7)",
    )
    assert before == [(40_000, 40_000)]


def test_concatenated_members_and_zero_padding_read_whole(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "joined.log.gz"
    path.write_bytes(gzip.compress(lines_of(1000)) + gzip.compress(lines_of(1000, 1000)) + bytes(512))
    result = run_cli("ingest", "--db", str(db), str(path))
    assert result.returncode == 0, result.stderr
    assert stored(db)[:2] == (2000, 2000)


@pytest.mark.slow
def test_follow_reads_a_truncated_rotated_gz_once(tmp_path: Path, db: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    path = logs / "old.log.1.gz"
    truncated_gz(path, 30_000)
    expected = recoverable_lines(path)
    old = time.time() - 60  # settled: not a file still being compressed
    os.utime(path, (old, old))
    returncode, stderr = follow_until_stored(db, logs, expected, settle=2.5)  # 2 more rescans: not read again
    assert returncode == 0, stderr
    assert_one_damage_line(stderr, path)
    assert stored(db)[:2] == (expected, expected)


@pytest.mark.slow
def test_reader_memory_is_bounded_for_a_bomb() -> None:
    """64 MiB of zeros packed into ~64 KiB: each read returns at most what was asked."""
    packed = gzip.compress(bytes(64 << 20), 9)
    reader = CompressedReader(io.BytesIO(packed), "bomb.gz")
    sizes = []
    while data := reader.read(1 << 20):
        sizes.append(len(data))
    assert max(sizes) <= 1 << 20
    assert sum(sizes) == 64 << 20 and reader.damage is None
