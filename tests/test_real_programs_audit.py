"""auditd writes the kernel's audit records; `logscope ingest` must read its audit.log as written.

auditd (Debian's auditd) runs in the foreground with a private configuration and log file while a
user message, a file watch and a refused open (as nobody) make records; only the rules the test
added are removed afterwards, and the kernel's audit switch is put back as it was. The test skips
where the kernel's audit interface is not ours to use (not root, another auditd, audit locked).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    ingest,
    now,
    program,
    running,
    wait_for,
)

CONF = """log_file = {log}
log_format = ENRICHED
write_logs = yes
flush = INCREMENTAL_ASYNC
freq = 1
num_logs = 2
max_log_file = 8
space_left = 75
admin_space_left = 50
"""

SERIAL = re.compile(r"^type=SYSCALL msg=audit\(\d+\.\d+:(\d+)\)", re.MULTILINE)


def _audit_status(auditctl: str) -> dict[str, str]:
    result = subprocess.run([auditctl, "-s"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"the kernel's audit interface is not available here: {result.stderr.strip()}")
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


@pytest.mark.slow
def test_auditd_audit_log(tmp_path: Path, db: Path) -> None:
    auditd, auditctl = program("auditd"), program("auditctl")
    if os.geteuid() != 0:
        pytest.skip("auditd needs root")
    status = _audit_status(auditctl)
    if status.get("pid", "0") != "0" or status.get("enabled") == "2":
        pytest.skip(f"the kernel's audit is in use or locked here: {status}")
    log, watched = tmp_path / "audit.log", tmp_path / "watched"
    (tmp_path / "auditd.conf").write_text(CONF.format(log=log))
    tmp_path.chmod(0o755)  # nobody may enter, and is refused the 0600 log itself
    watch = ["-w", str(watched), "-p", "wa", "-k", "logscope_watch"]
    denied = ["always,exit", "-F", "arch=b64", "-S", "openat", "-F", "exit=-EACCES", "-F", "uid=65534"]
    denied += ["-k", "logscope_denied"]
    start = now()
    try:
        with running([auditd, "-n", "-c", str(tmp_path)], cwd=tmp_path):
            wait_for(lambda: log.exists() and "DAEMON_START" in log.read_text(errors="replace"), "auditd")
            for n in range(10):
                subprocess.run([auditctl, "-m", f"logscope check {n}"], check=True)
            subprocess.run([auditctl, *watch], check=True, capture_output=True)
            subprocess.run([auditctl, "-a", *denied], check=True, capture_output=True)
            for _ in range(5):
                watched.touch()
                subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", f"cat {log}"], capture_output=True)
            subprocess.run([auditctl, "-W", *watch[1:]], capture_output=True)
            subprocess.run([auditctl, "-d", *denied], capture_output=True)
            wait_for(lambda: log.read_text(errors="replace").count("logscope_denied") >= 7, "the records")
    finally:
        subprocess.run([auditctl, "-e", status.get("enabled", "0")], capture_output=True)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"linux_audit"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith("type=")) > 40
    assert_times_from_lines(stored.rows, start, end)
    fields = [json.loads(row[5]) for row in stored.rows]
    types = Counter(f["type"] for f in fields)
    assert types["USER"] == 10 and types["DAEMON_START"] == 1 and types["DAEMON_END"] == 1
    # the refused opens are the warnings; ausearch (auditd's own reader) finds the same events
    refused = count_lines(log, lambda line: " success=no " in line)
    assert stored.levels["warning"] == refused >= 5
    events = subprocess.run(
        [program("ausearch"), "--input", str(log), "--success", "no", "--key", "logscope_denied", "--raw"],
        capture_output=True,
        text=True,
    )
    warned = [f for row, f in zip(stored.rows, fields, strict=True) if row[3] == "warning"]
    assert {f["serial"] for f in warned} == {int(serial) for serial in SERIAL.findall(events.stdout)}
    assert all(f["type"] == "SYSCALL" for f in warned)
    assert all(f["enriched"].startswith("ARCH=x86_64 SYSCALL=openat") for f in warned)
