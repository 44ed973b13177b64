"""`logscope formats detect FILE` proposes a definition when no format fits the whole file but most
lines share a shape; the proposal, saved as it is, passes `formats check` and reads the file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import assert_clean_error, query_db, run_cli

# Real output: Python logging in a layout no built-in format knows, with tracebacks.
PROGRAM = textwrap.dedent(
    """
    import logging, sys
    handler = logging.FileHandler(sys.argv[1])
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d [%(threadName)s] %(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("billing")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    for n in range(30):
        log.info("invoice %d sent", n)
        if n % 7 == 0:
            log.warning("retrying payment %d", n)
        if n % 11 == 0:
            try:
                1 / 0
            except ZeroDivisionError:
                log.exception("payment %d crashed", n)
    """
)
RECORDS = 30 + 5 + 3


@pytest.mark.slow
def test_a_proposed_definition_is_saved_checked_and_reads_the_file(tmp_path: Path) -> None:
    log = tmp_path / "billing-service.log"
    subprocess.run([sys.executable, "-c", PROGRAM, str(log)], check=True, timeout=60)
    detect = run_cli("formats", "detect", str(log))
    assert detect.returncode == 0, detect.stderr
    assert "No format fits the whole file" in detect.stderr and "[[format]]" in detect.stderr
    proposed = run_cli("formats", "detect", "--propose", str(log))
    assert proposed.returncode == 0, proposed.stderr
    folder = tmp_path / "formats"
    folder.mkdir()
    (folder / "billing.toml").write_text(proposed.stdout)
    check = run_cli("formats", "check", str(folder))
    assert check.returncode == 0, check.stdout + check.stderr
    db = tmp_path / "b.duckdb"
    result = run_cli("ingest", "--db", str(db), "--formats", str(folder), str(log))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT format, level, fields->>'context', (fields->'pid')::INT, message FROM logs")
    assert len(rows) == RECORDS
    assert {row[0] for row in rows} == {"billing_service"}
    assert [row[1] for row in rows].count("error") == 3
    assert all(row[2] == "MainThread" and row[3] > 0 for row in rows)
    crashed = [row[4] for row in rows if row[1] == "error"]
    assert all("ZeroDivisionError: division by zero" in text for text in crashed)  # tracebacks joined


def test_no_shared_shape_is_a_clear_error(tmp_path: Path) -> None:
    log = tmp_path / "notes.txt"
    log.write_text("some words\nother words here\n12 apples\n")
    assert_clean_error(run_cli("formats", "detect", "--propose", str(log)), 1)
