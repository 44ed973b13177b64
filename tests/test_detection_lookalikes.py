"""Common application lines a format with a loose pattern could claim: each goes to the format it
is written in, keeps its level, and none is taken by a program's format it only resembles
(before, `2026-11-20 10:00:00 myapp ERROR something failed` was a dpkg.log line at level info,
with `package=ERROR`)."""

from __future__ import annotations

import orjson
import pytest
from conftest import run_cli

LINES = [
    ("2026-11-20 10:00:00 myapp ERROR something failed", "generic", "error"),
    ("2026-11-20 10:00:00 start worker 3", "generic", None),
    ("2026-11-20 10:00:00 status ok", "generic", None),
    ("2026-11-20 10:00:00 remove old files", "generic", None),
    ("2026-11-20 10:00:00 install step done in 3 s", "generic", None),
    ("2026-11-20 10:00:00 startup complete", "generic", None),
    ("2026-11-20T10:00:00Z ERROR connection refused", "generic", "error"),
    ("[2026-11-20 10:00:00] ERROR: connection refused", "generic", "error"),
    ("2026-11-20 10:00:00,123 ERROR [main] com.foo.Bar - connection refused", "log4j", "error"),
    ("2026-11-20 10:00:00 - app - ERROR - connection refused", "python_logging", "error"),
    ('time="2026-11-20T10:00:00Z" level=error msg="connection refused"', "logfmt", "error"),
    # what dpkg itself writes stays dpkg's (parsers/debian.toml has the real samples)
    ("2026-12-07 00:42:45 install logscope-probe:all <none> 1.0-1", "dpkg", "info"),
    ("2026-12-07 00:42:45 startup archives unpack", "dpkg", "info"),
    ("2026-12-07 00:42:45 conffile /etc/logscope-probe.conf keep", "dpkg", "info"),
]


@pytest.mark.parametrize(("line", "format_name", "level"), LINES)
def test_a_line_goes_to_the_format_it_is_written_in(line: str, format_name: str, level: str | None) -> None:
    result = run_cli("parse", "-", input=line + "\n", timeout=60)
    assert result.returncode == 0, result.stderr
    record = orjson.loads(result.stdout)
    assert (record["format"], record["level"]) == (format_name, level), record
