"""Prometheus and its node exporter write go-kit logfmt; `logscope ingest` must read it as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    free_port,
    http_get,
    ingest,
    now,
    program,
    running,
    wait_for,
)

PROMETHEUS_PORT = free_port(47480)
NODE_EXPORTER_PORT = free_port(47481)
DOWN_TARGET = "127.0.0.1:47499"  # nothing listens: every scrape fails

LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "error": "error"}


def _check_logfmt(log: Path, db: Path, start, end) -> None:
    stored = ingest(log, db)
    assert_parsed(stored, {"logfmt"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith("ts=")) > 5
    assert_times_from_lines(stored.rows, start, end)
    written = Counter(
        LEVELS[m[1]] for line in log.read_text().splitlines() if (m := re.search(r" level=(\w+)", line))
    )
    assert dict(stored.levels) == dict(written)


@pytest.mark.parametrize("name", ["prometheus", "prometheus-node-exporter"])
@pytest.mark.slow
def test_prometheus_logfmt(name: str, tmp_path: Path, db: Path) -> None:
    binary = program(name)
    if name == "prometheus":
        (tmp_path / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: down\n"
            f'    static_configs:\n      - targets: ["{DOWN_TARGET}"]\n'
        )
        port = PROMETHEUS_PORT
        argv = [
            binary,
            "--config.file=prometheus.yml",
            f"--storage.tsdb.path={tmp_path}/data",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=debug",
        ]
    else:
        port = NODE_EXPORTER_PORT
        argv = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    log = tmp_path / f"{name}.log"
    start = now()
    with running(argv, cwd=tmp_path, log_name=log.name, port=port):
        assert http_get(f"http://127.0.0.1:{port}/metrics") == 200
        if name == "prometheus":
            wait_for(lambda: "Scrape failed" in log.read_text(), "a failed scrape")
    end = now()
    _check_logfmt(log, db, start, end)


ZABBIX_ACTIVE_PORT = free_port(47493)  # nothing listens: the agent's active checks fail


def test_zabbix_agent_log(tmp_path: Path, db: Path) -> None:
    agent = program("zabbix_agentd")
    log = tmp_path / "zabbix_agentd.log"
    (tmp_path / "zabbix.conf").write_text(
        f"LogFile={log}\nPidFile={tmp_path}/zabbix_agentd.pid\nStartAgents=0\n"
        f"ServerActive=127.0.0.1:{ZABBIX_ACTIVE_PORT}\nAllowRoot=1\nDebugLevel=3\n"
    )
    start = now()
    with running([agent, "-f", "-c", str(tmp_path / "zabbix.conf")], cwd=tmp_path):
        wait_for(lambda: log.exists() and "started to fail" in log.read_text(), "the failing active checks")
    wait_for(lambda: "Zabbix Agent stopped" in log.read_text(), "the agent to stop")
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"zabbix"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) > 5
    assert_times_from_lines(stored.rows, start, end)
    assert all('"pid":' in row[5] for row in stored.rows)


F2B_JAIL = """[DEFAULT]
backend = polling
[sshd]
enabled = true
filter = sshd
logpath = {auth_log}
maxretry = 2
action =
"""


@pytest.mark.slow
def test_fail2ban_log(tmp_path: Path, db: Path) -> None:
    server = program("fail2ban-server")
    client = program("fail2ban-client")
    conf = tmp_path / "f2b"
    conf.mkdir()
    for part in ("filter.d", "action.d"):
        shutil.copytree(f"/etc/fail2ban/{part}", conf / part)
    log, auth = tmp_path / "fail2ban.log", tmp_path / "auth.log"
    auth.touch()
    (conf / "fail2ban.conf").write_text(
        f"[Definition]\nloglevel = INFO\nlogtarget = {log}\nsocket = {tmp_path}/f2b.sock\n"
        f"pidfile = {tmp_path}/f2b.pid\ndbfile = :memory:\n"
    )
    (conf / "jail.conf").write_text(F2B_JAIL.format(auth_log=auth))
    start = now()
    with running([server, "-f", "-c", str(conf), "-x"], cwd=tmp_path) as process:
        wait_for(lambda: log.exists() and "Jail 'sshd' started" in log.read_text(), "the sshd jail")
        with auth.open("a") as lines:
            for n in range(3):
                lines.write(
                    f"{time.strftime('%b %e %H:%M:%S')} vm sshd[12{n}]: Failed password for root "
                    f"from 192.0.2.7 port 5000{n} ssh2\n"
                )
        wait_for(lambda: "Ban 192.0.2.7" in log.read_text(), "the ban")
        subprocess.run([client, "-c", str(conf), "stop"], capture_output=True, timeout=60)
        process.wait(30)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"fail2ban"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) > 10
    assert_times_from_lines(stored.rows, start, end)
    written = Counter(re.search(r"\]: (\w+) ", line)[1] for line in log.read_text().splitlines())
    assert (
        stored.levels["notice"] == written["NOTICE"] >= 1 and stored.levels["warning"] == written["WARNING"]
    )
    bans = [row for row in stored.rows if '"action":"Ban"' in row[5]]
    assert len(bans) == 1 and '"address":"192.0.2.7"' in bans[0][5]


@pytest.mark.slow
def test_monit_log(tmp_path: Path, db: Path) -> None:
    monit = program("monit")
    log = tmp_path / "monit.log"
    control = tmp_path / "monitrc"
    control.write_text(
        f"set daemon 1\nset logfile {log}\nset pidfile {tmp_path}/monit.pid\nset idfile {tmp_path}/monit.id\n"
        f"set statefile {tmp_path}/monit.state\ncheck host closed with address 127.0.0.1\n"
        f"  if failed port 47499 protocol http then alert\ncheck file missing with path {tmp_path}/nope\n"
    )
    control.chmod(0o600)
    start = now()
    with running([monit, "-I", "-c", str(control)], cwd=tmp_path):
        wait_for(
            lambda: log.exists() and log.read_text().count("file doesn't exist") >= 2, "two monit cycles"
        )
    wait_for(lambda: "stopped" in log.read_text(), "monit to stop")
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"monit"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith("[")) > 5
    assert_times_from_lines(stored.rows, start, end)
    assert stored.levels["error"] == count_lines(log, lambda line: "] error    : " in line) >= 4
