"""journalctl's text layouts: `logscope ingest` must read what `journalctl -o short*` prints.

The machine's own journal is printed in three layouts (the default `short`, `short-iso` with
`+0000` offsets, `short-iso-precise` with microseconds) and compared with the same entries in
`journalctl -o json`: one record per entry, the entry's time, host and program. The test skips
when journalctl is missing or the journal holds no entries.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from real_programs import assert_parsed, ingest, program

ENTRIES = 200


def _journal(*options: str) -> str:
    argv = [program("journalctl"), "--no-pager", "--quiet", "--utc", "-n", str(ENTRIES), *options]
    done = subprocess.run(argv, capture_output=True, text=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    if done.returncode != 0 or not done.stdout.strip() or done.stdout.startswith("-- No entries --"):
        pytest.skip(f"the journal holds no entries here ({done.stderr.strip()[:200]})")
    return done.stdout


def _entries() -> list[dict]:
    """The same entries as JSON; skip when one's message is not one line of text (the text
    layouts print a multi-line message over several lines, a binary one as `[N blob data]`)."""
    entries = [json.loads(line) for line in _journal("-o", "json").splitlines()]
    if not all(isinstance(entry.get("MESSAGE"), str) and "\n" not in entry["MESSAGE"] for entry in entries):
        pytest.skip("some entries hold multi-line or binary messages: counts cannot be compared")
    return entries


@pytest.mark.parametrize(
    ("layout", "precision"),
    [("short", "seconds"), ("short-iso", "seconds"), ("short-iso-precise", "microseconds")],
)
def test_journalctl_text_layouts(layout: str, precision: str, tmp_path: Path, db: Path) -> None:
    entries = _entries()
    log = tmp_path / f"{layout}.log"
    log.write_text(_journal("-o", layout))
    stored = ingest(log, db, "--tz", "UTC")
    assert_parsed(stored, {"syslog", "bsd_syslog", "openssh", "cron", "postfix", "sudo"}, share=0.99)
    assert len(stored.rows) == len(entries)
    for row, entry in zip(stored.rows, entries, strict=True):
        written = dt.datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, dt.UTC)
        if precision == "seconds":
            written = written.replace(microsecond=0)
        assert row[0] == written, (row[6], entry["__REALTIME_TIMESTAMP"])
        identifier = entry.get("SYSLOG_IDENTIFIER")
        if identifier and " " not in identifier:
            assert json.loads(row[5])["app"] == identifier, row[6]
