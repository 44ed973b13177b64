"""`logscope query SQL FILE` loads neither pyarrow nor numpy for a small file (read by our
parser), and no pyarrow for a file DuckDB scans whose lines the plan reads (numpy: DuckDB's
`create_function` imports it for the fallback parser). They cost ~0.2 CPU-s of every such
command. The real CLI, or InPlaceQuery, in a fresh interpreter, then `sys.modules`."""

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


SCANNED = """
import sys
from datetime import UTC

from logscope.parsing.registry import load_registry
from logscope.pipeline.in_place import InPlaceQuery

query = InPlaceQuery([sys.argv[2]], load_registry(UTC))
con = query.connect(sys.argv[1])
(count,) = con.execute(sys.argv[1]).fetchone()
print(query.files[0].how)
print(count, "pyarrow" in sys.modules)
"""


@pytest.mark.parametrize(
    ("sample", "copies", "sql", "how"),
    [
        ("nginx_access.log", 14, "SELECT count(*) FROM nginx_access WHERE status >= 400", "nginx_access"),
        ("syslog", 150, "SELECT count(*) FROM logs WHERE format <> 'raw'", "syslog"),
    ],
)
def test_a_scanned_file_whose_lines_the_plan_reads_loads_no_pyarrow(
    tmp_path: Path, sample: str, copies: int, sql: str, how: str
) -> None:
    big = tmp_path / sample  # over the 1 MB head our parser reads: DuckDB scans the rest
    big.write_text((SAMPLES / sample).read_text() * copies)
    done = subprocess.run(
        [sys.executable, "-c", SCANNED, sql, str(big)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    scanned, last = done.stdout.splitlines()[-2:]
    assert scanned.startswith("scanned by DuckDB") and how in scanned, scanned
    count, loaded = last.split()
    assert int(count) > 1000 and loaded == "False", last
