"""`logscope query SQL FILE` loads neither pyarrow nor numpy for a small file (read by our
parser), and no pyarrow for a file DuckDB scans whose lines the plan reads. numpy: DuckDB's
`create_function` imports it for the fallback parser, unless the process keeps it out, as the
CLI's `query SQL FILE` does (lean_arrow.py). They cost ~0.2 CPU-s of every such command. The real
CLI, or InPlaceQuery, in a fresh interpreter, then `sys.modules` (or `-X importtime`)."""

from __future__ import annotations

import os
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


KEPT_OUT = """
import sys
from datetime import UTC

from logscope.lean_arrow import keep_numpy_out
from logscope.parsing.registry import load_registry
from logscope.pipeline.in_place import InPlaceQuery

print("kept out:", keep_numpy_out())
query = InPlaceQuery(sys.argv[2:], load_registry(UTC), head_bytes=4096)
con = query.connect()
print(repr(con.execute(sys.argv[1]).fetchall()))
print(query.files[0].how)
print("numpy:", sys.modules["numpy"], "pyarrow:", "pyarrow" in sys.modules)
"""
# Every column but the receive time (`ts` too where a record has none of its own).
ROWS = (
    "SELECT id, CASE WHEN ts = received_at THEN NULL ELSE ts END, host, format, level, message,"
    " fields::VARCHAR, raw FROM logs ORDER BY id"
)


def access_lines_with_others(path: Path, copies: int = 3) -> Path:
    """nginx lines with lines the plan does not read between them: those go to our parser, the
    DuckDB function registered for it runs."""
    lines = []
    for number, line in enumerate((SAMPLES / "nginx_access.log").read_text().splitlines() * copies):
        lines.append(line)
        if number % 50 == 7:
            lines += ["not an access line", line.replace("GET", "GÉT")]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_process_that_keeps_numpy_out_registers_the_fallback_and_gives_the_same_rows(
    tmp_path: Path,
) -> None:
    """DuckDB's `create_function` is given a stand-in for numpy (lean_arrow.py): the fallback
    parser still runs (pyarrow, imported for it, without numpy), and the rows are those of a
    process with numpy."""
    from datetime import UTC

    from logscope.parsing.registry import load_registry
    from logscope.pipeline.in_place import InPlaceQuery

    path = access_lines_with_others(tmp_path / "access.log")
    done = subprocess.run(
        [sys.executable, "-c", KEPT_OUT, ROWS, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    kept, rows, how, loaded = done.stdout.splitlines()
    assert kept == "kept out: True"
    assert how == "scanned by DuckDB (nginx_access)", how
    assert loaded == "numpy: None pyarrow: True", loaded  # the fallback ran, numpy never loaded
    query = InPlaceQuery([str(path)], load_registry(UTC), head_bytes=4096)
    con = query.connect()
    try:
        expected = con.execute(ROWS).fetchall()
    finally:
        con.close()
    assert rows == repr(expected), "the rows differ"  # (pytest's diff of two long lines takes minutes)
    assert {row[3] for row in expected} == {"nginx_access", "raw"}


def test_the_cli_keeps_numpy_out_and_answers_as_in_a_process_with_numpy(tmp_path: Path) -> None:
    """`python -m logscope query SQL FILE` (its own process: numpy kept out) over a file whose odd
    lines go to the fallback parser: no numpy (nor importlib.metadata) imported, the same rows as
    InPlaceQuery here."""
    from datetime import UTC

    from logscope.parsing.registry import load_registry
    from logscope.pipeline.in_place import InPlaceQuery

    path = access_lines_with_others(tmp_path / "access.log", 14)  # past the 1 MB our parser reads
    sql = "SELECT format, count(*) AS n, count(level) AS levels, sum(length(message)) AS m"
    sql += " FROM logs GROUP BY 1 ORDER BY 1"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "logscope", "query", "--csv", sql, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TZ": "UTC"},
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "pyarrow" in imported and "numpy" not in imported  # the fallback ran, without numpy
    assert "duckdb._version" in imported and "importlib.metadata" not in imported  # lean_duckdb.py
    query = InPlaceQuery([str(path)], load_registry(UTC))
    con = query.connect()
    try:
        expected = con.execute(sql).fetchall()
    finally:
        con.close()
    assert query.files[0].how == "scanned by DuckDB (nginx_access)"
    got = [tuple(line.split(",")) for line in done.stdout.splitlines()[1:]]
    assert got == [tuple(str(value) for value in row) for row in expected]
    assert [row[0] for row in expected] == ["nginx_access", "raw"]
