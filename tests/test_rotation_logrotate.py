"""Real logrotate rotating a file again and again under a fast writer: every line stored once."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from test_tail_support import (
    assert_exactly_once,
    start_follow_cli,
    start_writer,
    stop_cli,
    stored_sequence_numbers,
    wait_until_serving,
    wait_until_stored,
)

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
LINES = 40_000
ROTATIONS = 8

pytestmark = pytest.mark.skipif(
    not Path(LOGROTATE).exists(), reason="logrotate is not installed (.ci/run installs it)"
)

CREATE = """
{log} {{
    rotate 100
    create
    compress
    delaycompress
    missingok
    postrotate
        kill -HUP $(cat {log}.pid)
    endscript
}}
"""

COPYTRUNCATE = """
{log} {{
    rotate 100
    copytruncate
    missingok
}}
"""


def rotate_repeatedly(tmp_path: Path, config: str, log: Path, writer: subprocess.Popen) -> int:
    """Force a rotation every ~0.25 s while the writer runs; how many rotations ran."""
    conf = tmp_path / "logrotate.conf"
    conf.write_text(config.format(log=log))
    conf.chmod(0o644)
    state = tmp_path / "logrotate.state"
    done = 0
    while writer.poll() is None and done < ROTATIONS:
        time.sleep(0.25)
        result = subprocess.run(
            [LOGROTATE, "-f", "-s", str(state), str(conf)], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        done += 1
    return done


def sequence_numbers_on_disk(directory: Path, pattern: str = "app.log*") -> Counter[int]:
    """Every `seq=N` still in the log files logrotate left (plain and compressed)."""
    counts: Counter[int] = Counter()
    for path in directory.glob(pattern):
        if path.suffix in (".pid",):
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            counts.update(int(n) for n in re.findall(r"seq=(\d+)", handle.read()))
    return counts


def follow_through_rotations(tmp_path: Path, config: str, source: str, expect: int | None) -> Counter[int]:
    """Follow `source` while logrotate rotates under the writer; then SIGTERM (exit 0 expected)."""
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    log.touch()
    follower = start_follow_cli(db, str(tmp_path / source))
    try:
        wait_until_serving(db, follower)
        writer = start_writer(log, 0, LINES, pause_every=25)
        rotations = rotate_repeatedly(tmp_path, config, log, writer)
        assert writer.wait(timeout=60) == 0
        wait_until_stored(db, expect)  # caught up (queried through the running ingest)
    finally:
        status, stderr = stop_cli(follower)
    assert status == 0, stderr
    assert "error" not in stderr, stderr
    assert rotations >= 4, f"only {rotations} rotations happened while the writer ran"
    return stored_sequence_numbers(db)


@pytest.mark.parametrize("source", ["app.log", "app.log*"])
@pytest.mark.slow
def test_logrotate_create_mode_with_compression_stores_every_line_exactly_once(
    tmp_path: Path, source: str
) -> None:
    # "app.log": rotated files are read through the handle kept open; "app.log*": the rotated and
    # compressed files are followed too and must be recognized as already read.
    stored = follow_through_rotations(tmp_path, CREATE, source, LINES)
    assert list(tmp_path.glob("app.log.*.gz")), "logrotate compressed nothing"
    assert_exactly_once(stored, range(LINES))


@pytest.mark.parametrize("source", ["app.log", "app.log*"])
@pytest.mark.slow
def test_logrotate_copytruncate_mode_stores_every_line_left_on_disk_exactly_once(
    tmp_path: Path, source: str
) -> None:
    # With "app.log*" the copies themselves are followed too: they must be recognized as read.
    stored = follow_through_rotations(tmp_path, COPYTRUNCATE, source, None)
    doubled = sorted(n for n, times in stored.items() if times > 1)
    assert not doubled, f"{len(doubled)} lines stored twice, first {doubled[:10]}"
    # The known hazards of copytruncate: a line written after the copy and before the truncate is
    # in no file at all; and when only app.log is followed, a line the follower had not read yet
    # when the file was truncated is left only in the copy (app.log.N), which it does not follow
    # (on a loaded machine the follower can be that far behind). Everything still in app.log, and
    # with "app.log*" everything in any file, must be stored.
    followed = sequence_numbers_on_disk(tmp_path, source)
    assert set(followed) <= set(stored), sorted(set(followed) - set(stored))[:10]
    # Of the lines lost, only those still in some file can be the follower's doing, and they are a
    # small share. Those in no file are logrotate's copy-to-truncate window, which no follower can
    # read and whose length is the scheduler's (a run at load 11 lost 2,693 of 40,000 there while every
    # line on disk was stored), so they are not counted: a follower that drops lines still fails.
    lost_on_disk = (set(range(LINES)) - set(stored)) & set(sequence_numbers_on_disk(tmp_path))
    assert len(lost_on_disk) < LINES // 20, f"{len(lost_on_disk)} lines in the copies lost"
