"""A following `tail` imports pyarrow without numpy and keeps DuckDB from importing
pyarrow.dataset (logscope/lean_arrow.py, issue 15: ~20 MB of its RSS), and DuckDB still scans,
returns and calls back with Arrow as before. Fresh interpreters (what a process imported is the
point), and the real `tail` in a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO, query_db
from terminal import Terminal, logscope_command, needs_tmux
from test_tail_browse import logscope_pid, wait_until

LEAN = """
import sys
from logscope.lean_arrow import import_lean

print("lean:", import_lean(), "numpy:", "numpy" in sys.modules)
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

con = duckdb.connect()
table = pa.table({"n": list(range(10)), "s": [f"x{n}" for n in range(10)]})
con.register("held", table)
print("filtered:", con.execute("SELECT sum(n), string_agg(s, ',') FROM held WHERE n % 3 = 0").fetchall())
print("twice:", con.execute("SELECT count(*) FROM held a JOIN held b USING (n)").fetchall())
reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
print("reader:", con.execute("SELECT max(n) FROM reader").fetchall())
back = con.execute("SELECT s FROM held WHERE n > 7 ORDER BY n").arrow().read_all()
print("back:", back.column("s").to_pylist())
print("masked:", pc.replace_substring_regex(pa.array(["id 42 ok"]), r"\\d+", "<*>").to_pylist())
print("numpy after:", "numpy" in sys.modules)
con.create_function("shout", lambda texts: pc.utf8_upper(texts), ["VARCHAR"], "VARCHAR", type="arrow")
print("function:", con.execute("SELECT shout(s) FROM held WHERE n = 2").fetchall())
try:
    import pyarrow.dataset
except ImportError:
    print("dataset: hidden")
"""


def run_python(program: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_lean_pyarrow_leaves_out_numpy_and_dataset_and_duckdb_reads_and_returns_arrow() -> None:
    assert run_python(LEAN) == [
        "lean: True numpy: False",
        "filtered: [(18, 'x0,x3,x6,x9')]",
        "twice: [(10,)]",
        "reader: [(9,)]",
        "back: ['x8', 'x9']",
        "masked: ['id <*> ok']",
        "numpy after: False",  # nothing above needed it
        "function: [('X2',)]",  # DuckDB imports numpy itself for Python functions
        "dataset: hidden",
    ]


def test_after_pyarrow_was_imported_numpy_stays_and_only_dataset_is_hidden() -> None:
    program = "import pyarrow, sys\nfrom logscope.lean_arrow import import_lean\n"
    program += "print(import_lean(), 'numpy' in sys.modules, sys.modules['pyarrow.dataset'])"
    assert run_python(program) == ["False True None"]


@needs_tmux
def test_a_following_tail_has_pyarrow_without_numpy_or_pyarrow_dataset(tmp_path: Path) -> None:
    log, db = tmp_path / "app.log", tmp_path / "follow.duckdb"
    log.write_text("".join(f"2026-12-07T10:00:{n:02d}Z ERROR payment {n} failed\n" for n in range(20)))
    terminal = Terminal(logscope_command("tail", str(log), "--db", str(db)))
    try:
        terminal.wait_for("payment 19 failed", timeout=60)
        with open(log, "a") as out:
            out.write("2026-12-07T10:01:00Z ERROR payment 20 failed\n")
        terminal.wait_for("payment 20 failed", timeout=30)
        pid = logscope_pid(terminal)
        maps = Path(f"/proc/{pid}/maps")
        wait_until(lambda: "libarrow.so" in maps.read_text())  # the run's records went through Arrow
        text = maps.read_text()
        assert "numpy" not in text
        assert "pyarrow/_dataset" not in text
        terminal.keys("q")
        screen = terminal.wait_for("__exited 0", timeout=20)
    finally:
        terminal.close()
    assert "Traceback" not in screen


def test_ingest_runs_with_lean_pyarrow_and_its_rules_fire(tmp_path: Path) -> None:
    """`logscope ingest` (the real CLI entry, in a fresh interpreter) imports pyarrow the lean way:
    its bulk path, the rules' read-back and pattern mining run without numpy or pyarrow.dataset,
    and the bundled rules still fire on the sample incident."""
    db = tmp_path / "lean.duckdb"
    sample = REPO / "sample_logs"
    program = (
        "import sys\nfrom logscope.cli import main\n"
        f"code = main(['ingest', '-q', '--db', {str(db)!r}, {str(sample)!r}])\n"
        "print(code, 'numpy' in sys.modules, sys.modules.get('pyarrow.dataset', 'absent'))\n"
    )
    assert run_python(program) == ["0 False None"]
    fired = [rule for (rule,) in query_db(db, "SELECT rule FROM alerts ORDER BY rule")]
    assert "web_5xx_burst" in fired, fired
