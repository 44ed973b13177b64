"""System programs write their logs; `logscope ingest` must read them as they wrote them.

containerd runs with a private root, state directory and socket and logs through logrus
(`time="…" level=… msg="…"`), which `logfmt` reads. sudo reads its log file from /etc/sudoers,
which a test must not change: the test runs sudo in a private mount namespace (`unshare -m`, as
root) where a temporary sudoers is bind-mounted over /etc/sudoers, so the machine's own file is
untouched.
"""

from __future__ import annotations

import os
import re
import subprocess
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
    shared_dir,
    wait_for,
)

NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def test_sudo_log_file(db: Path) -> None:
    sudo, unshare, setpriv = program("sudo"), program("unshare"), program("setpriv")
    if os.geteuid() != 0:
        pytest.skip("needs root: sudo's sudoers is bind-mounted in a private mount namespace")
    with shared_dir("sudo") as root:
        log = root / "sudo.log"
        sudoers = root / "sudoers"
        rules = ["Defaults !syslog", "root ALL=(ALL:ALL) ALL", "nobody ALL=(root) /usr/bin/id"]
        sudoers.write_text("\n".join([f"Defaults logfile={log}", *rules, ""]))
        sudoers.chmod(0o440)
        long_args = "a very long command line that goes on and on and on so that sudo wraps it in its log"
        script = "\n".join(
            [
                f"mount --bind {sudoers} /etc/sudoers || exit 99",
                *(f"{sudo} -u nobody /bin/true" for _ in range(5)),
                f"{sudo} -u nobody /bin/echo {long_args}",
                f"{setpriv} {' '.join(NOBODY)} {sudo} -n /usr/bin/id",
                "exit 0",
            ]
        )
        start = now()
        ran = subprocess.run(
            [unshare, "-m", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            cwd=root,
        )
        end = now()
        if ran.returncode == 99:
            pytest.skip(f"no private mount namespace here: {ran.stderr.strip()}")
        assert ran.returncode == 0, ran.stderr
        assert "a password is required" in ran.stderr
        stored = ingest(log, db)
        assert_parsed(stored, {"sudo"}, share=1.0)
        starts = count_lines(
            log, lambda line: re.match(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d : ", line) is not None
        )
        assert len(stored.rows) == starts == 7  # wrapped lines joined
        assert_times_from_lines(stored.rows, start, end)
        assert dict(stored.levels) == {"info": 6, "warning": 1}
        wrapped = next(row for row in stored.rows if "/bin/echo" in row[4])
        assert "\n    " in wrapped[6] and "sudo wraps it in" in wrapped[4]
        assert '"user":"nobody"' in stored.rows[-1][5]


def test_containerd_daemon_log(db: Path) -> None:
    containerd = program("containerd")
    if os.geteuid() != 0:
        pytest.skip("containerd needs root")
    with shared_dir("containerd") as root:
        argv = [containerd, "--root", f"{root}/root", "--state", f"{root}/state"]
        argv += ["--address", f"{root}/containerd.sock", "--log-level", "debug"]
        log = root / "containerd.log"
        start = now()
        with running(argv, cwd=root, log_name=log.name):
            wait_for(lambda: "containerd successfully booted" in log.read_text(), "containerd to boot")
        end = now()
        stored = ingest(log, db)
        assert_parsed(stored, {"logfmt"}, share=1.0)
        assert len(stored.rows) == count_lines(log, lambda line: line.startswith('time="')) > 20
        assert_times_from_lines(stored.rows, start, end)
        written = {"info": "info", "debug": "debug", "warning": "warning", "error": "error"}
        expected: dict[str, int] = {}
        for line in log.read_text().splitlines():
            level = written[re.search(r" level=(\w+) ", line)[1]]
            expected[level] = expected.get(level, 0) + 1
        assert dict(stored.levels) == expected
        booted = next(row for row in stored.rows if row[4].startswith("containerd successfully booted"))
        assert booted[3] == "info"
