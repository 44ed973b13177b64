"""The check before DuckDB's CSV reader scans a file (pipeline/in_place_scan.py): files it would
split into other lines than our reader are refused, with the reason; others pass."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from logscope.pipeline.in_place_scan import DELIMITER, _refused, scan_ok
from logscope.pipeline.scan_check import PlainChecks, named_plain_files

LINE = b'10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "c"\n'


@pytest.mark.parametrize(
    ("inserted", "reason"),
    [
        (b"", None),
        (b"\x1f alone \x1e apart", None),
        ("unicode é ✓".encode(), None),
        (b"crlf\r\n", "it holds carriage returns"),
        (b"nul\x00byte", "it holds NUL bytes"),
        (DELIMITER.encode(), "it holds the scan delimiter"),
        (b"bad \xff utf-8", "it is not valid UTF-8"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_scan_ok_refuses_what_the_csv_reader_reads_otherwise(
    tmp_path: Path, inserted: bytes, reason: str | None, compressed: bool
) -> None:
    data = LINE * 500 + inserted + b"\n" + LINE * 500
    path = tmp_path / "access.log"
    path.write_bytes(gzip.compress(data) if compressed else data)
    assert scan_ok(str(path), compressed) == reason


def test_a_delimiter_across_two_blocks_is_found() -> None:
    first, second = DELIMITER.encode()[:1], DELIMITER.encode()[1:]
    assert _refused(iter([LINE + first, second + LINE])) == "it holds the scan delimiter"
    assert _refused(iter([LINE + first, LINE])) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        # A character of two bytes across two blocks; then a short last block, read into the
        # buffer that still holds the first block's non-ASCII bytes past its end.
        (b"a" * 63 + "é".encode() + b"b" * 40 + b"\n", None),
        (b"a" * 63 + b"\xc3" + b"(" + b"b" * 40 + b"\n", "it is not valid UTF-8"),
        (b"a" * 63 + DELIMITER.encode() + b"b\n", "it holds the scan delimiter"),
        (b"a" * 20 + "é".encode() * 30 + b"\n" + b"c" * 10 + b"\n", None),
        (b"a" * 128 + b"\n" + b"b" * 10 + b"\r\n", "it holds carriage returns"),
        (b"a" * 64 + "é".encode()[:1], "it is not valid UTF-8"),  # cut off at the end
    ],
)
def test_blocks_read_into_one_buffer_give_the_whole_file_s_answer(
    tmp_path: Path, data: bytes, reason: str | None
) -> None:
    path = tmp_path / "small-blocks.log"
    path.write_bytes(data)
    assert scan_ok(str(path), False, block_bytes=64) == reason
    assert scan_ok(str(path), False) == reason  # one block


@pytest.mark.parametrize(
    ("inserted", "reason"),
    [
        (b"", None),
        (b"crlf\r\n", "it holds carriage returns"),
        (b"nul\x00byte", "it holds NUL bytes"),
        (DELIMITER.encode(), "it holds the scan delimiter"),
        (b"bad \xff utf-8", "it is not valid UTF-8"),
    ],
)
def test_a_child_process_gives_the_same_answers(tmp_path: Path, inserted: bytes, reason: str | None) -> None:
    paths = []
    for name, data in (("first", LINE * 10), ("second", LINE * 500 + inserted + b"\n" + LINE)):
        paths.append(str(tmp_path / name))
        Path(paths[-1]).write_bytes(data)
    checks = PlainChecks(paths, child_bytes=0)
    assert checks.child is not None and checks.in_child == paths
    assert checks.answer(paths[1]) == reason  # the first answer is read on the way
    assert checks.answers == {paths[0]: None, paths[1]: reason}
    assert checks.child is None  # all answered: it was waited for
    assert checks.answer(paths[0]) is None


def test_files_the_child_does_not_answer_are_checked_here(tmp_path: Path) -> None:
    path = tmp_path / "crlf.log"
    path.write_bytes(LINE + b"\r\n")
    checks = PlainChecks([str(path)], child_bytes=0)
    assert checks.child is not None
    checks.child.kill()  # it may have answered already; if not, this process checks the file
    assert checks.answer(str(path)) == "it holds carriage returns"
    checks.close()
    missing = str(tmp_path / "gone.log")
    checks = PlainChecks([missing], child_bytes=0)  # no size: checked here, which raises
    assert checks.child is None
    with pytest.raises(FileNotFoundError):
        checks.answer(missing)


def test_a_file_the_child_cannot_read_raises_here_as_it_would_have(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(LINE)
    checks = PlainChecks([str(path)], child_bytes=0)
    path.unlink()  # after the child started: it answers that it could not read it
    with pytest.raises(FileNotFoundError):
        checks.answer(str(path))
    assert checks.child is None


def test_only_plain_regular_files_named_are_checked_early(tmp_path: Path) -> None:
    plain, packed, fifo = tmp_path / "a.log", tmp_path / "b.log.gz", tmp_path / "fifo"
    plain.write_bytes(LINE)
    packed.write_bytes(gzip.compress(LINE))
    os.mkfifo(fifo)  # not opened: a pipe's bytes are the query's to read
    names = [
        str(plain),
        str(packed),
        str(fifo),
        str(tmp_path),
        str(tmp_path / "*.log"),
        "-",
        str(tmp_path / "gone"),
    ]
    assert named_plain_files(names, least=0) == [str(plain)]
    assert named_plain_files(names, least=len(LINE) + 1) == []  # too small for a child
