"""`logscope query SQL FILE` on a small file (read by our parser, not scanned by DuckDB) loads
neither pyarrow nor numpy (~0.15 CPU-s of a ~0.3 s command): the real CLI in a fresh interpreter,
then `sys.modules`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"

PROGRAM = """
import sys

from logscope.cli import main

code = main(["query", "--csv", sys.argv[1], sys.argv[2]])
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"pyarrow", "numpy", "pandas"})
print("loaded:", ",".join(loaded) or "none", "code:", code)
"""


def query_in_fresh_interpreter(sql: str, path: Path) -> tuple[list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, sql, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    *rows, last = done.stdout.splitlines()
    return rows, last


@pytest.mark.parametrize(
    ("sample", "sql"),
    [
        ("nginx_access.log", "SELECT count(*) AS n FROM nginx_access WHERE status >= 400"),
        ("syslog", "SELECT count(*) AS n FROM logs WHERE format <> 'raw'"),
        ("app.jsonl", "SELECT count(*) AS n FROM logs WHERE level IS NOT NULL"),
    ],
)
def test_a_small_file_is_queried_without_pyarrow(tmp_path: Path, sample: str, sql: str) -> None:
    lines = (SAMPLES / sample).read_text().splitlines()[:100]
    small = tmp_path / sample
    small.write_text("\n".join(lines) + "\n")
    rows, last = query_in_fresh_interpreter(sql, small)
    assert last == "loaded: none code: 0", last
    assert rows[0] == "n" and int(rows[1]) > 0, rows
