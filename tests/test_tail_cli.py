"""`ingest --follow` through the real CLI: signals, unreadable files, large directories."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import cli_env, run_cli
from test_tail_support import (
    Tailing,
    append,
    seq_lines,
    start_follow_cli,
    stop_cli,
    stored_raw,
    wait_until_serving,
    wait_until_stored,
)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_a_stop_signal_commits_what_was_read_and_exits_0(tmp_path: Path, stop_signal: int) -> None:
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    append(log, *seq_lines(0, 10))
    follower = start_follow_cli(db, str(log))
    try:
        wait_until_serving(db, follower)
        append(log, *seq_lines(10, 500))
        assert wait_until_stored(db, 500) == 500
    finally:
        follower.send_signal(stop_signal)
        _, stderr = follower.communicate(timeout=30)
    assert follower.returncode == 0, stderr
    assert stored_raw(db) == seq_lines(0, 500)


def test_help_names_the_follow_defaults() -> None:
    result = run_cli("ingest", "--help")
    text = " ".join(result.stdout.split())
    assert "--follow" in text
    assert "read files never seen before from their beginning (the default)" in text
    assert "--from-end" in text


def without_root_powers(command: list[str]) -> list[str]:
    """Root reads any file; without CAP_DAC_OVERRIDE/READ_SEARCH (util-linux setpriv) it does not."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and util-linux setpriv is missing: cannot make a file unreadable")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *command]


@pytest.mark.slow
def test_an_unreadable_file_is_reported_once_and_the_others_are_followed(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "db.duckdb"
    logs.mkdir()
    append(logs / "ok.log", *seq_lines(0, 20))
    append(logs / "secret.log", "not for you")
    (logs / "secret.log").chmod(0o000)
    command = [sys.executable, "-m", "logscope", "ingest", "--follow", str(logs), "--db", str(db)]
    follower = subprocess.Popen(
        without_root_powers(command), env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until_serving(db, follower)
        assert wait_until_stored(db, 20) == 20
        time.sleep(2.5)  # two more polls find secret.log again: no second message
        append(logs / "ok.log", *seq_lines(20, 30))
        assert wait_until_stored(db, 30) == 30
    finally:
        status, stderr = stop_cli(follower)
    assert status == 0, stderr
    problems = [line for line in stderr.splitlines() if "error:" in line]
    assert problems == [f"logscope: error: {logs / 'secret.log'}: Permission denied"]
    assert stored_raw(db) == seq_lines(0, 30)


@pytest.mark.slow
def test_a_directory_of_1000_files_is_read_with_bounded_open_handles(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "db.duckdb"
    logs.mkdir()
    for index in range(1000):
        append(logs / f"f{index:04d}.log", f"file={index:04d} line=1", f"file={index:04d} line=2")
    baseline = len(os.listdir("/proc/self/fd"))
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], len(os.listdir("/proc/self/fd")))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with Tailing(db, str(logs), max_open_files=50) as tail:
            tail.wait_for(2000, timeout=60)
            for index in range(0, 1000, 10):  # files whose handles were closed get reopened
                append(logs / f"f{index:04d}.log", f"file={index:04d} line=3")
            tail.wait_for(2100, timeout=30)
            assert not tail.errors
    finally:
        done.set()
        sampler.join()
    # 50 followed files, plus DuckDB's, inotify's and the writer's own handles.
    assert peak[0] - baseline <= 50 + 20, f"{peak[0] - baseline} more handles open"
    raw = stored_raw(db)
    assert len(raw) == len(set(raw)) == 2100


@pytest.mark.slow
def test_running_out_of_file_handles_is_said_once_and_every_file_is_still_read(tmp_path: Path) -> None:
    logs, db = tmp_path / "logs", tmp_path / "db.duckdb"
    logs.mkdir()
    for index in range(300):
        append(logs / f"f{index:03d}.log", f"file={index:03d} line=1")
    command = [sys.executable, "-m", "logscope", "ingest", "--follow", str(logs), "--db", str(db)]

    def few_handles() -> None:  # far below the 256 files follow mode would keep open
        resource.setrlimit(resource.RLIMIT_NOFILE, (120, 120))

    follower = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=few_handles
    )
    try:
        wait_until_serving(db, follower)
        assert wait_until_stored(db, 300, timeout=60) == 300
    finally:
        status, stderr = stop_cli(follower)
    assert status == 0, stderr
    problems = [line for line in stderr.splitlines() if "error:" in line]
    assert len(problems) == 1 and "too many open files" in problems[0], stderr
    raw = stored_raw(db)
    assert len(raw) == len(set(raw)) == 300


@pytest.mark.slow
def test_following_the_directory_that_holds_the_database_does_not_read_the_database(
    tmp_path: Path,
) -> None:
    db = tmp_path / "db.duckdb"
    append(tmp_path / "app.log", *seq_lines(0, 5))
    follower = start_follow_cli(db, str(tmp_path))
    try:
        wait_until_serving(db, follower)
        append(tmp_path / "app.log", *seq_lines(5, 10))
        assert wait_until_stored(db, 10) == 10
        time.sleep(1.5)  # commits change db.duckdb and its .wal: none of that may come back in
    finally:
        status, stderr = stop_cli(follower)
    assert status == 0, stderr
    assert stored_raw(db) == seq_lines(0, 10)


def test_following_a_file_in_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    result = run_cli(
        "ingest", "--follow", str(tmp_path / "nowhere" / "app.log"), "--db", str(tmp_path / "db")
    )
    assert result.returncode == 1
    assert f"no such directory: {tmp_path / 'nowhere'}" in result.stderr
    assert "Traceback" not in result.stderr
