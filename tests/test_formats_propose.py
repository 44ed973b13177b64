"""`logscope formats detect FILE` proposes a definition when no format fits the whole file but most
lines share a shape; the proposal, saved as it is, passes `formats check` and reads the file."""

from __future__ import annotations

import re
import shutil
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


def _saved_proposal(log: Path, folder: Path) -> Path:
    """`formats detect --propose LOG` saved in `folder`, after `formats check` passed on it."""
    proposed = run_cli("formats", "detect", "--propose", str(log))
    assert proposed.returncode == 0, proposed.stderr
    folder.mkdir()
    (folder / "proposed.toml").write_text(proposed.stdout)
    check = run_cli("formats", "check", str(folder))
    assert check.returncode == 0, check.stdout + check.stderr
    return folder


def test_a_constant_word_before_the_time_is_kept_in_the_proposal(tmp_path: Path) -> None:
    """update-alternatives writes `update-alternatives 2026-12-07 12:26:58: run with ...` (its
    /var/log/alternatives.log); run here with a private --altdir, --admindir and --log."""
    tool = shutil.which("update-alternatives")
    if tool is None:
        pytest.skip("update-alternatives (dpkg) is not installed")
    (tmp_path / "alt").mkdir()
    (tmp_path / "admin").mkdir()
    log = tmp_path / "alternatives.log"
    private = ["--log", str(log), "--altdir", str(tmp_path / "alt"), "--admindir", str(tmp_path / "admin")]
    for n in range(5):
        for target, priority in (("/bin/true", "10"), ("/bin/false", "20")):
            link = str(tmp_path / f"link{n}")
            argv = [tool, *private, "--install", link, f"probe{n}", target, priority]
            subprocess.run(argv, check=True, capture_output=True, timeout=30)
    folder = _saved_proposal(log, tmp_path / "formats")
    db = tmp_path / "a.duckdb"
    result = run_cli("ingest", "--db", str(db), "--formats", str(folder), "--tz", "UTC", str(log))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT format, ts, received_at, message FROM logs")
    written = [line for line in log.read_text().splitlines() if line.startswith("update-alternatives 2")]
    assert len(rows) == len(written) == 20
    assert {row[0] for row in rows} == {"alternatives"}
    assert all(row[1] < row[2] for row in rows)  # the time of the line, not of the import
    assert all(row[3].startswith(("run with --log", "link group probe")) for row in rows)


def test_a_source_location_column_becomes_a_field(tmp_path: Path) -> None:
    """git's GIT_TRACE_PERFORMANCE lines: `12:23:32.317207 read-cache.c:2447       performance: ...`."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    log = tmp_path / "git-trace.log"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TZ": "UTC", "GIT_TRACE_PERFORMANCE": str(log)}
    subprocess.run([git, "init", "-q", str(tmp_path / "repo")], check=True, env=env, timeout=30)
    status = [git, "-C", str(tmp_path / "repo"), "status"]
    for _ in range(5):
        subprocess.run(status, check=True, capture_output=True, env=env, timeout=30)
    folder = _saved_proposal(log, tmp_path / "formats")
    assert "(?P<source>" in (folder / "proposed.toml").read_text()
    db = tmp_path / "g.duckdb"
    result = run_cli("ingest", "--db", str(db), "--formats", str(folder), "--tz", "UTC", str(log))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT format, fields->>'source' FROM logs")
    assert rows and all(row[0] == "git_trace" and re.fullmatch(r"[\w/.-]+\.c:\d+", row[1]) for row in rows)
