"""Shared test helpers: run the real CLI (in this process or its own), read the real DuckDB file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from cli_runner import run_in_process

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "loghub"

# Each test process (each pytest-xdist worker) has XDG directories of its own, removed at the end:
# no user's formats or history leak in, and parallel workers never share a default database.
XDG_HOME = Path(tempfile.mkdtemp(prefix="logscope-tests-xdg-"))
for _variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_variable] = str(XDG_HOME / _variable.lower())


@pytest.fixture(scope="session", autouse=True)
def _remove_xdg_home():
    yield
    shutil.rmtree(XDG_HOME, ignore_errors=True)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for CLI subprocesses: UTC, no user config leaking in."""
    env = dict(os.environ)
    env.pop("LOGSCOPE_DB", None)
    env["TZ"] = "UTC"
    env.update(extra)
    return env


def run_cli(
    *args: str,
    input: bytes | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `logscope ARGS` in this process (tests/cli_runner.py) and capture its text output."""
    data = input.encode() if isinstance(input, str) else input
    return run_in_process(args, data, env or cli_env(), timeout, cwd)


def run_cli_process(
    *args: str,
    input: bytes | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m logscope ARGS` in a process of its own and capture its text output."""
    data = input.encode() if isinstance(input, str) else input
    completed = subprocess.run(
        [sys.executable, "-m", "logscope", *args],
        input=data,
        capture_output=True,
        env=env or cli_env(),
        timeout=timeout,
        cwd=cwd,
    )
    return subprocess.CompletedProcess(
        completed.args,
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )


def query_db(path: Path | str, sql: str, params: list | None = None) -> list[tuple]:
    """Rows from the DuckDB file, opened read-only in UTC."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int | None = None) -> None:
    """A failed run: non-zero exit, `logscope: error:` lines, no traceback."""
    assert result.returncode != 0, result
    if code is not None:
        assert result.returncode == code, result
    assert "Traceback" not in result.stderr, result.stderr
    assert "logscope: error:" in result.stderr, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"
