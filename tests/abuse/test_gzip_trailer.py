"""A `.gz` whose deflate data is intact but whose trailer is bad (a wrong CRC, or the trailer cut
off) loses no line: every line decompressed before the damage is stored (ingest) or queried
(`query SQL FILE.gz`), then one error line names the file and the exit status is 1. The real CLI
on real files; the expected counts come from zcat."""

from __future__ import annotations

import gzip
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import query_db, run_cli
from server_helpers import follow_until_stored

LINES = 20_000
NGINX = '127.0.0.1 - - [10/Oct/2023:13:55:{s:02d} +0000] "GET /page/{i} HTTP/1.1" 200 {i} "-" "curl/8.0"\n'


def generic_lines(count: int) -> bytes:
    return b"".join(f"gz line {i} padding {i * 7}\n".encode() for i in range(count))


def nginx_lines(count: int) -> bytes:
    return b"".join(NGINX.format(s=i % 60, i=i).encode() for i in range(count))


def bad_crc(path: Path, data: bytes) -> Path:
    packed = bytearray(gzip.compress(data))
    packed[-8] ^= 0xFF  # the CRC32 of the trailer (the deflate data is untouched)
    path.write_bytes(bytes(packed))
    return path


def no_trailer(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data)[:-8])
    return path


def zcat_lines(path: Path) -> int:
    """Complete lines zcat gets out of the file (it complains, but writes them)."""
    return subprocess.run(["zcat", str(path)], capture_output=True).stdout.count(b"\n")


def assert_one_error(stderr: str, path: Path) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("logscope: error:")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"logscope: error: {path}: "), errors


@pytest.mark.parametrize("damage", [bad_crc, no_trailer])
def test_ingest_stores_every_line_before_a_bad_trailer(tmp_path: Path, db: Path, damage) -> None:
    path = damage(tmp_path / "app.log.gz", generic_lines(LINES))
    assert zcat_lines(path) == LINES
    result = run_cli("ingest", "--db", str(db), str(path))
    assert result.returncode == 1, result
    assert_one_error(result.stderr, path)
    assert query_db(db, "SELECT count(*), count(DISTINCT message) FROM logs") == [(LINES, LINES)]


def test_ingest_of_a_directory_keeps_a_small_damaged_gz_whole(tmp_path: Path, db: Path) -> None:
    """A gz smaller than one read of compressed input, next to a good file."""
    logs = tmp_path / "logs"
    logs.mkdir()
    path = bad_crc(logs / "small.log.gz", generic_lines(300))
    (logs / "good.log").write_bytes(b"a good line\n" * 10)
    result = run_cli("ingest", "--db", str(db), str(logs))
    assert result.returncode == 1, result
    assert_one_error(result.stderr, path)
    rows = query_db(db, "SELECT source, count(*) FROM logs GROUP BY ALL ORDER BY ALL")
    assert rows == [(str(logs / "good.log"), 10), (str(path), 300)]


@pytest.mark.parametrize("damage", [bad_crc, no_trailer])
@pytest.mark.parametrize("lines", [generic_lines, nginx_lines], ids=["parser", "scan"])
def test_query_in_place_reads_every_line_before_the_damage(tmp_path: Path, damage, lines) -> None:
    """nginx lines have a plan DuckDB would scan (it fails on the damage): our reader reads them."""
    path = damage(tmp_path / "app.log.gz", lines(LINES))
    good = tmp_path / "good.log"
    good.write_bytes(lines(100))
    sql = "SELECT source, count(*), count(DISTINCT raw) FROM logs GROUP BY ALL ORDER BY ALL"
    result = run_cli("query", "--csv", sql, str(path), str(good))
    assert result.returncode == 1, result
    assert_one_error(result.stderr, path)
    assert result.stdout.splitlines()[1:] == [f"{path},{LINES},{LINES}", f"{good},100,100"]


def test_query_in_place_drops_only_the_cut_off_line(tmp_path: Path) -> None:
    """Cut inside the deflate data: the complete lines zcat recovers, not the partial last one."""
    path = tmp_path / "cut.log.gz"
    packed = gzip.compress(nginx_lines(LINES))
    path.write_bytes(packed[: len(packed) * 3 // 4])
    expected = zcat_lines(path)
    result = run_cli("query", "--csv", "SELECT count(*) FROM logs", str(path))
    assert result.returncode == 1, result
    assert_one_error(result.stderr, path)
    assert result.stdout.splitlines()[1:] == [str(expected)]


@pytest.mark.slow
def test_follow_reads_every_line_of_a_gz_with_a_bad_crc(tmp_path: Path, db: Path) -> None:
    """`ingest --follow` and `tail` read a rotated .gz through the same tail source."""
    logs = tmp_path / "logs"
    logs.mkdir()
    path = bad_crc(logs / "old.log.1.gz", generic_lines(LINES))
    old = time.time() - 60  # settled: not a file still being compressed
    os.utime(path, (old, old))
    _, stderr = follow_until_stored(db, logs, LINES, settle=1)
    assert_one_error(stderr, path)
    assert query_db(db, "SELECT count(*), count(DISTINCT message) FROM logs") == [(LINES, LINES)]
