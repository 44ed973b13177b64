"""`logscope query SQL FILE…` over files DuckDB's CSV reader would split into other lines than
ours (a CR, a NUL, bad UTF-8): our parser reads them, so the rows equal what `ingest` stores,
whether a child process checked the file while the query was set up (pipeline/scan_check.py) or
this process did; the ids of the files after a refused one follow its records."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from logscope.parsing.registry import load_registry
from logscope.pipeline.in_place import InPlaceQuery
from logscope.pipeline.scan_check import PlainChecks
from tests.test_query_files import ROWS, ingested_rows

IDS = "SELECT source, min(id), max(id), count(*) FROM logs GROUP BY source ORDER BY min(id)"


def access_lines(count: int, tag: str) -> list[bytes]:
    return [
        f'10.0.0.{n % 7} - - [20/Nov/2026:10:{n % 60:02d}:00 +0000] "GET /{tag}/{n} HTTP/1.1"'
        f' {200 + n % 4 * 100} {n} "-" "curl/8.5.0"'.encode()
        for n in range(count)
    ]


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def files(directory: Path) -> tuple[list[Path], list[str]]:
    """Four access files of 3,000 lines, three with a byte DuckDB reads otherwise late in them
    (past the first block our parser detects), and the reasons the check gives."""
    clean = write(directory / "a-clean.log", access_lines(3000, "a"))
    carriage = access_lines(3000, "b")
    carriage[2500] = carriage[2500].replace(b'" 200', b'\r" 200').replace(b'" 300', b'\r" 300')
    nul = access_lines(3000, "c")
    nul[2600] = nul[2600].replace(b"curl", b"cu\x00rl")
    utf8 = access_lines(3000, "d")
    utf8[2700] = utf8[2700].replace(b"curl", b"cu\xffrl")
    paths = [
        clean,
        write(directory / "b-carriage.log", carriage),
        write(directory / "c-nul.log", nul),
        write(directory / "d-utf8.log", utf8),
    ]
    refused = "read by our parser (DuckDB would split it otherwise: {})"
    hows = [
        "scanned by DuckDB (nginx_access)",
        refused.format("it holds carriage returns"),
        refused.format("it holds NUL bytes"),
        refused.format("it is not valid UTF-8"),
    ]
    return paths, hows


@pytest.mark.parametrize("child_bytes", [0, 1 << 40], ids=["child", "here"])
def test_refused_files_give_the_rows_ingest_stores(tmp_path: Path, child_bytes: int) -> None:
    (tmp_path / "logs").mkdir()
    paths, hows = files(tmp_path / "logs")
    expected = ingested_rows(tmp_path, *paths)
    order = [paths[1], paths[0], paths[2], paths[3]]  # a refused file first: the ids after it
    query = InPlaceQuery(
        [str(path) for path in order], load_registry(UTC), head_bytes=4096, child_bytes=child_bytes
    )
    con = query.connect()
    try:
        assert [file.how for file in query.files] == [hows[1], hows[0], hows[2], hows[3]]
        assert con.execute(ROWS).fetchall() == expected
        assert con.execute(IDS).fetchall() == [
            (str(path), 1 + 3000 * number, 3000 * (number + 1), 3000) for number, path in enumerate(order)
        ]
    finally:
        con.close()


def test_files_checked_before_the_query_is_built_are_not_checked_again(tmp_path: Path) -> None:
    """commands/query.py starts the check of the files named before DuckDB is imported."""
    (tmp_path / "logs").mkdir()
    paths, hows = files(tmp_path / "logs")
    early = PlainChecks([str(paths[1])], child_bytes=0)
    assert early.child is not None
    query = InPlaceQuery([str(paths[1]), str(paths[2])], load_registry(UTC), head_bytes=4096, checks=early)
    con = query.connect()
    try:
        assert [file.how for file in query.files] == [hows[1], hows[2]]
        assert early.answers == {str(paths[1]): "it holds carriage returns"}
    finally:
        con.close()
        early.close()
