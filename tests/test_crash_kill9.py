"""`kill -9` at random moments while a stream is followed: after restarts, every line is stored once."""

from __future__ import annotations

import os
import random
import signal
import time
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

LINES = 20_000
KILLS = 4


@pytest.mark.slow
def test_kill_9_at_random_moments_neither_loses_nor_repeats_a_line(tmp_path: Path) -> None:
    seed = int(os.environ.get("LOGSCOPE_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"LOGSCOPE_CRASH_SEED={seed}")  # shown when the test fails, to replay the same moments
    log, db = tmp_path / "app.log", tmp_path / "db.duckdb"
    log.touch()
    follower = start_follow_cli(db, str(log))
    writer = None
    kills_mid_stream = 0
    try:
        wait_until_serving(db, follower)
        # A millisecond after every line: 20 s of writing, so that a loaded machine, where each
        # restart of the follower takes seconds, still kills it mid-stream.
        writer = start_writer(log, 0, LINES, pause_every=1)
        for kill in range(KILLS):
            time.sleep(rng.uniform(0.0, 0.6))  # the moment: mid-batch, mid-commit, mid-anything
            follower.send_signal(signal.SIGKILL)
            kills_mid_stream += writer.poll() is None
            follower.wait(timeout=10)
            if kill == 1:  # rotate while nobody follows: the rest is read from app.log.1
                os.rename(log, tmp_path / "app.log.1")
                writer.send_signal(signal.SIGHUP)
            follower = start_follow_cli(db, str(log))
            wait_until_serving(db, follower)
        assert writer.wait(timeout=60) == 0
        wait_until_stored(db, LINES)
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
        status, stderr = stop_cli(follower)
    assert status == 0, stderr
    assert (tmp_path / "app.log").exists(), "the writer ended before the rotation: slow it down"
    assert kills_mid_stream >= KILLS - 1, "the writer ended too soon: the kills hit no stream"
    assert_exactly_once(stored_sequence_numbers(db), range(LINES))
