"""cron logs through syslog; `logscope ingest` must read its lines as rsyslog writes them.

cron reads /etc/crontab and /etc/cron.d and writes to /dev/log, none of which a test may change:
it runs in a private mount namespace (`unshare -m`, as root) where its own cron.d, an empty
crontab and spool, a private /run (so its @reboot jobs run at once) and a /dev whose `log` is
the socket of an rsyslogd the test started are mounted; rsyslog writes cron's and its PAM lines.
The @reboot jobs start as soon as cron does, so nothing waits for a minute to turn.
"""

from __future__ import annotations

import json
import os
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

JOBS = ["root echo ok"] * 5 + ["root exit 3"] * 3 + ["nobody /bin/true"] * 2
DEVICES = "null zero full random urandom tty"


def _rsyslog_conf(root: Path) -> str:
    return f"""module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{root}/log.sock")
$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
cron.*;authpriv.* {root}/cron.log
"""


def _namespace_script(root: Path, cron: str) -> str:
    """Mount cron's private world, then become cron (exit 99 when mounts are not allowed here)."""
    return f"""set -e
mount --rbind /dev {root}/olddev || exit 99
mount -t tmpfs tmpfs /dev
for name in {DEVICES}; do touch /dev/$name; mount --bind {root}/olddev/$name /dev/$name; done
ln -s {root}/log.sock /dev/log
mount --bind {root}/crontab /etc/crontab
mount --bind {root}/cron.d /etc/cron.d
mount --bind {root}/spool /var/spool/cron/crontabs
mount --bind {root}/run /run
exec {cron} -f -L 15
"""


@pytest.mark.slow
def test_cron_through_rsyslog(db: Path) -> None:
    cron, rsyslogd, unshare = program("cron"), program("rsyslogd"), program("unshare")
    if os.geteuid() != 0:
        pytest.skip("needs root: cron's files are bind-mounted in a private mount namespace")
    with shared_dir("cron") as root:
        for name in ("olddev", "cron.d", "spool", "run"):
            (root / name).mkdir()
        (root / "crontab").write_text("")
        (root / "cron.d" / "logscope").write_text(
            'SHELL=/bin/sh\nMAILTO=""\n' + "".join(f"@reboot {job}\n" for job in JOBS)
        )
        (root / "rsyslog.conf").write_text(_rsyslog_conf(root))
        (root / "inner.sh").write_text(_namespace_script(root, cron))
        log = root / "cron.log"
        start = now()
        rsyslog = [rsyslogd, "-n", "-f", f"{root}/rsyslog.conf", "-i", f"{root}/rsyslog.pid"]

        def jobs_ended() -> bool:
            return log.exists() and count_lines(log, lambda line: ") END (" in line) >= len(JOBS)

        namespace = [unshare, "-m", "--propagation", "private", "sh", f"{root}/inner.sh"]
        with running(rsyslog, cwd=root, log_name="rsyslog.out"):
            wait_for(lambda: (root / "log.sock").exists(), "rsyslog's socket")
            with running(namespace, cwd=root) as daemon:
                wait_for(lambda: jobs_ended() or daemon.poll() is not None, "cron's jobs to end")
                if daemon.returncode == 99:
                    pytest.skip(f"no private mount namespace here: {(root / 'server.out').read_text()}")
                assert jobs_ended(), (root / "server.out").read_text()
        end = now()
        stored = ingest(log, db, "--tz", "UTC")
        written = count_lines(log, bool)
    assert_parsed(stored, {"cron"}, share=1.0)
    assert len(stored.rows) == written
    assert_times_from_lines(stored.rows, start, end)
    fields = [json.loads(row[5]) for row in stored.rows]
    actions = [f.get("action") for f in fields]
    assert actions.count("CMD") == actions.count("END") == len(JOBS)
    assert stored.levels["error"] == actions.count("error") == 3  # the jobs that exited 3 (-L 4)
    assert {f["detail"] for f in fields if f.get("action") == "CMD"} == {"echo ok", "exit 3", "/bin/true"}
    assert sorted(f["user"] for f in fields if f.get("action") == "CMD") == ["nobody"] * 2 + ["root"] * 8
    sessions = [row[4] for row, f in zip(stored.rows, fields, strict=True) if f.get("pam") == "pam_unix"]
    assert sum("session opened" in message for message in sessions) == len(JOBS)
