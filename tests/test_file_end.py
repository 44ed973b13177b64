"""The end of a big log file, read at once: the records ingest stores for its last lines."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from test_query_files import ingested_rows

from logscope.parsing.registry import load_registry
from logscope.pipeline.file_end import file_end


def _rows(records) -> list[tuple]:
    return [(r.format, r.level, r.message, r.raw) for r in records]


@pytest.mark.slow
def test_the_last_lines_give_the_records_ingest_stores(tmp_path: Path) -> None:
    lines = [
        f'10.0.0.{n % 7} - - [20/Nov/2026:10:{n % 60:02d}:00 +0000] "GET /x/{n} HTTP/1.1" {200 + n % 4 * 100}'
        f' {n} "-" "curl/8.5.0"'
        for n in range(60_000)
    ]
    lines[-30] = "a line in no format"
    lines[-10] = "é unicode and a long tail " + "x" * 70_000  # longer than one step back
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    stored = ingested_rows(tmp_path, path)
    end = file_end(str(path), 50, load_registry(UTC))
    assert end.format == "nginx_access"
    assert len(end.records) == 50
    assert _rows(end.records) == [(row[4], row[5], row[6], row[8]) for row in stored[-50:]]
    assert [r.fields for r in end.records][:5] != [None] * 5
    assert end.start_offset == len("\n".join(lines[:-50]).encode()) + 1
    assert end.size == path.stat().st_size


def test_small_files_and_a_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "short.log"
    path.write_text("one\ntwo\nthree")
    end = file_end(str(path), 10, load_registry(UTC))
    assert [r.raw for r in end.records] == ["one", "two", "three"]
    assert end.start_offset == 0
    end = file_end(str(path), 2, load_registry(UTC))
    assert [r.raw for r in end.records] == ["two", "three"]
    assert end.start_offset == 4
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert file_end(str(empty), 10, load_registry(UTC)).records == []
