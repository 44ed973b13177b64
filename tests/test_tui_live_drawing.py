"""Following a growing file in a real terminal (tmux): every row drawn whole, the count in step.

The lines written say their own time (`at 08:00:01.007 seq 143`), so a row whose time column is
one record's and whose message is another's shows at a glance; the status count is checked
against the newest row's sequence number.

tmux 3.3 has no synchronized output (DEC mode 2026): it may answer a capture while it is still
reading a frame, and that capture then shows a row half old, half new. Such a tear is gone a few
milliseconds later; a row the app itself drew wrong stays until its next frame (0.1 s). So a
capture that disagrees is taken again after TEAR_SECONDS, and only a disagreement still there
fails the test.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from terminal import Terminal, logscope_command, needs_tmux

pytestmark = [needs_tmux, pytest.mark.slow]

RATE = 200  # lines per second
LINES = 1_200
TEAR_SECONDS = 0.03
# `01-15 08:00:01.007 grow.jsonl INFO  at 08:00:01.007 seq 143`
ROW = re.compile(r"^\d\d-\d\d (\d\d:\d\d:\d\d\.\d{3}) .*?\bat (\d\d:\d\d:\d\d\.\d{3}) seq (\d+)\b")
STATUS = re.compile(r"(?:following|paused).*?([\d,]+)/([\d,]+)")

WRITER = r"""
import json, sys, time
path, rate, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base_ms = 1_800_000_000_000
with open(path, "a", buffering=1) as out:
    start, sent = time.monotonic(), 0
    while sent < count:
        due = min(count, int((time.monotonic() - start) * rate))
        lines = []
        for seq in range(sent, due):
            ms = base_ms + seq * 7
            clock = time.strftime("%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}"
            stamp = time.strftime("%Y-%m-%dT", time.gmtime(ms // 1000)) + clock + "Z"
            lines.append(json.dumps({"ts": stamp, "level": "info", "msg": f"at {clock} seq {seq}"}) + "\n")
        out.write("".join(lines))
        sent = due
        time.sleep(0.01)
"""


def shown_records(screen: str) -> list[int]:
    """The sequence numbers of the records on screen, top to bottom."""
    return [int(match.group(3)) for line in screen.splitlines() if (match := ROW.match(line))]


def disagreements(screen: str) -> list[str]:
    """Rows whose time is not the one their message states, and a status count that is not the
    newest row's (the records are shown in order, so the newest row is record number count)."""
    lines = screen.splitlines()
    rows = [match for line in lines if (match := ROW.match(line))]
    wrong = [match.group(0) for match in rows if match.group(1) != match.group(2)]
    status = next((match for line in lines if (match := STATUS.search(line))), None)
    if rows and status is not None:
        total = int(status.group(2).replace(",", ""))
        newest = max(int(match.group(3)) for match in rows)
        if newest + 1 != total:
            wrong.append(f"status counts {total:,}, the newest row is record {newest + 1:,}")
    return wrong


@pytest.fixture
def following(tmp_path: Path):
    log = tmp_path / "grow.jsonl"
    log.write_text("")
    command = logscope_command("tail", str(log), "--db", str(tmp_path / "tail.duckdb"), "--no-default-rules")
    terminal = Terminal(command, env={"XDG_STATE_HOME": str(tmp_path / "state")})
    terminal.wait_for("following", timeout=60)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(RATE), str(LINES)])
    yield terminal, writer
    writer.kill()
    writer.wait()
    terminal.close()


def test_every_row_is_drawn_whole_and_the_count_keeps_step_while_following(following) -> None:
    terminal, writer = following
    captures, tears, with_rows = 0, 0, 0
    while writer.poll() is None:
        screen = terminal.text()
        captures += 1
        with_rows += bool(shown_records(screen))
        if disagreements(screen):
            time.sleep(TEAR_SECONDS)
            again = terminal.text()
            assert not disagreements(again), f"drawn wrong, and still so {TEAR_SECONDS}s later:\n{again}"
            tears += 1
        time.sleep(0.05)
    assert with_rows > captures // 2, f"log rows were shown in only {with_rows} of {captures} captures"
    assert tears <= captures // 10, f"{tears} of {captures} captures caught tmux mid-frame"
    # Once the file stops growing, the last frame shows the last record and counts every one.
    screen = terminal.wait_for(f"following · {LINES:,}/{LINES:,}", timeout=30)
    assert not disagreements(screen)
    assert shown_records(screen)[-1] == LINES - 1
