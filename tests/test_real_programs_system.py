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
import shutil
import subprocess
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    free_port,
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
        written = {"info": "info", "debug": "debug", "warning": "warning", "error": "error", "fatal": "fatal"}
        expected: dict[str, int] = {}
        for line in log.read_text().splitlines():
            level = written[re.search(r" level=(\w+) ", line)[1]]
            expected[level] = expected.get(level, 0) + 1
        assert dict(stored.levels) == expected
        booted = next(row for row in stored.rows if row[4].startswith("containerd successfully booted"))
        assert booted[3] == "info"


POSTFIX_MAIN_CF = """compatibility_level = 3.6
myhostname = logscope.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file = {root}/mail.log
maillog_file_prefixes = {root}
local_transport = error:local delivery is disabled
default_transport = error:outbound mail is disabled here
relay_transport = error:outbound mail is disabled here
smtputf8_enable = no
"""
MAILS = 6


@pytest.mark.slow
def test_postfix_mail_log(db: Path) -> None:
    """Postfix (its own maillog_file, 3.4+) in a private mount namespace where a copy of its
    configuration is bind-mounted over /etc/postfix; no port is opened (mail is submitted with
    sendmail) and every message is bounced by an error transport, so nothing leaves the machine."""
    postfix, sendmail, unshare = program("postfix"), program("sendmail"), program("unshare")
    if os.geteuid() != 0:
        pytest.skip("needs root: Postfix's configuration is bind-mounted in a private mount namespace")
    with shared_dir("postfix") as root:
        conf = root / "conf"
        shutil.copytree("/etc/postfix", conf)
        master = (conf / "master.cf").read_text().splitlines()
        # No listener (smtpd on port 25) and no chroot: only the local pickup path runs.
        kept = [line for line in master if not re.match(r"smtp\s+inet\s", line)]
        kept = [
            re.sub(r"^(\S+\s+(?:unix|fifo|unix-dgram|pass)\s+\S+\s+\S+\s+)y", r"\1n", line) for line in kept
        ]
        (conf / "master.cf").write_text("\n".join(kept) + "\n")
        (conf / "main.cf").write_text(POSTFIX_MAIN_CF.format(root=root))
        log = root / "mail.log"
        mails = "\n".join(
            f"printf 'Subject: test {n}\\n\\nhello\\n' | {sendmail} -f '' user{n}@example.com"
            for n in range(MAILS)
        )
        script = f"""mount --bind {conf} /etc/postfix || exit 99
mkdir -p {root}/spool {root}/data
{postfix} set-permissions create-missing >/dev/null 2>&1
{postfix} start || exit 1
{mails}
for n in $(seq 100); do
  [ $(grep -c ': removed$' {log} 2>/dev/null || echo 0) -ge {MAILS} ] && break; sleep 0.2
done
{postfix} stop
for n in $(seq 50); do grep -q 'terminate' {log} && break; sleep 0.2; done
"""
        start = now()
        ran = subprocess.run(
            [unshare, "-m", "--propagation", "private", "sh", "-c", script], capture_output=True, text=True
        )
        end = now()
        if ran.returncode == 99:
            pytest.skip(f"no private mount namespace here: {ran.stderr.strip()}")
        assert ran.returncode == 0, ran.stderr
        stored = ingest(log, db, "--tz", "UTC")
        assert_parsed(stored, {"postfix"}, share=1.0)
        assert len(stored.rows) == count_lines(log, bool) > 4 * MAILS
        assert_times_from_lines(stored.rows, start, end)
        bounced = count_lines(log, lambda line: "status=bounced" in line)
        assert stored.levels["warning"] == bounced == MAILS
        assert '"queue_id":' in stored.of("postfix")[-MAILS][5] or any(
            '"queue_id"' in (r[5] or "") for r in stored.rows
        )
        removed = [row for row in stored.rows if row[4].endswith(": removed")]
        assert len(removed) == MAILS and all('"app":"postfix/qmgr"' in row[5] for row in removed)


@pytest.mark.slow
def test_rabbitmq_log(db: Path) -> None:
    """RabbitMQ on private ports (AMQP, distribution, and its own epmd), with its node directory
    and log in a temporary directory; stopped with rabbitmqctl, its epmd killed after."""
    server, ctl, epmd = program("rabbitmq-server"), program("rabbitmqctl"), program("epmd")
    with shared_dir("rabbitmq") as root:
        epmd_port = free_port(47471)
        env = {
            **os.environ,
            "TZ": "UTC",
            "HOME": str(root),
            "RABBITMQ_NODENAME": "logscope@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(free_port(47472)),
            "RABBITMQ_DIST_PORT": str(free_port(47473)),
            "ERL_EPMD_PORT": str(epmd_port),
            "RABBITMQ_MNESIA_BASE": f"{root}/mnesia",
            "RABBITMQ_LOG_BASE": f"{root}/log",
            "RABBITMQ_CONFIG_FILE": f"{root}/rabbitmq",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{root}/enabled_plugins",
            "RABBITMQ_PID_FILE": f"{root}/rabbit.pid",
        }
        (root / "enabled_plugins").write_text("[].\n")
        (root / "rabbitmq.conf").write_text("")
        log = root / "log" / "logscope@localhost.log"
        start = now()
        with (root / "server.out").open("wb") as out:
            broker = subprocess.Popen(
                [server], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                wait_for(
                    lambda: log.exists() and "Server startup complete" in log.read_text(), "RabbitMQ", 120
                )
                subprocess.run([ctl, "stop"], env=env, capture_output=True, timeout=60)
                broker.wait(60)
            finally:
                if broker.poll() is None:
                    os.killpg(broker.pid, 9)
                    broker.wait(10)
                subprocess.run([epmd, "-port", str(epmd_port), "-kill"], env=env, capture_output=True)
        end = now()
        stored = ingest(log, db)
        assert_parsed(stored, {"rabbitmq"}, share=1.0)
        stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00 \[")
        assert len(stored.rows) == count_lines(log, lambda line: stamp.match(line) is not None) > 50
        assert_times_from_lines(stored.rows, start, end)
        for level in ("notice", "warning", "error"):
            assert stored.levels[level] == count_lines(
                log, lambda line, level=level: f" [{level}] " in line[:45]
            )
        assert any("Server startup complete" in row[4] for row in stored.rows)
