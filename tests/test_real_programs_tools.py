"""Tools write their logs; `logscope ingest` must read them as written.

strace (`-tt -T` and `-f -ttt`), dpkg (installing, upgrading and purging a package it is given,
under a private --root), apt's history and term logs (the machine's own, written when .ci/run
installs packages) and supervisord (managing a program that keeps failing).
"""

from __future__ import annotations

import datetime as dt
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
    go_program,
    ingest,
    now,
    program,
    running,
    wait_for,
)

UTC = dt.UTC
FAILED_CALL = re.compile(r" = -1 E[A-Z0-9]+ ")


def _strace(tmp_path: Path, *options: str) -> tuple[Path, dt.datetime, dt.datetime]:
    strace = program("strace")
    log = tmp_path / "strace.log"
    start = now()
    traced = subprocess.run(
        [
            strace,
            *options,
            "-o",
            str(log),
            "sh",
            "-c",
            "ls /nonexistent 2>/dev/null; (echo a | cat >/dev/null)",
        ],
        capture_output=True,
        text=True,
    )
    if "Operation not permitted" in traced.stderr:
        pytest.skip(f"ptrace is not allowed here: {traced.stderr.strip()}")
    return log, start, now()


@pytest.mark.parametrize("options", [("-tt", "-T"), ("-f", "-ttt")], ids=["tt_T", "f_ttt"])
def test_strace(options: tuple[str, ...], tmp_path: Path, db: Path) -> None:
    log, start, end = _strace(tmp_path, *options)
    stored = ingest(log, db)
    assert_parsed(stored, {"strace"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool)
    assert_times_from_lines(stored.rows, start, end)
    failed = count_lines(log, lambda line: FAILED_CALL.search(line) is not None)
    assert stored.levels["error"] == failed > 0  # strace -c would count these as errors
    fields = [row[5] for row in stored.rows]
    assert any('"errno":"ENOENT"' in field for field in fields if field)
    if "-f" in options:
        assert all('"pid":' in field for field in fields)
        assert any('"exit_status":' in field for field in fields if field)
    else:
        assert any('"duration":' in field for field in fields if field)


def _deb(root: Path, version: str) -> Path:
    package = root / f"pkg-{version}"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "usr/share/doc/logscope-probe").mkdir(parents=True)
    (package / "usr/share/doc/logscope-probe/README").write_text("probe\n")
    (package / "DEBIAN/control").write_text(
        f"Package: logscope-probe\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: logscope tests <tests@example.com>\nDescription: a package for the dpkg.log test\n"
    )
    deb = root / f"logscope-probe_{version}_all.deb"
    subprocess.run([program("dpkg-deb"), "--build", str(package), str(deb)], check=True, capture_output=True)
    return deb


def test_dpkg_log(tmp_path: Path, db: Path) -> None:
    dpkg = program("dpkg")
    target = tmp_path / "root"
    (target / "var/lib/dpkg/info").mkdir(parents=True)
    (target / "var/lib/dpkg/updates").mkdir()
    (target / "var/lib/dpkg/status").touch()
    log = tmp_path / "dpkg.log"
    base = [dpkg, f"--root={target}", f"--log={log}", "--force-script-chrootless", "--force-not-root"]
    start = now()
    for action in (
        ["-i", str(_deb(tmp_path, "1.0-1"))],
        ["-i", str(_deb(tmp_path, "1.1-1"))],
        ["--purge", "logscope-probe"],
    ):
        done = subprocess.run(
            [*base, *action],
            capture_output=True,
            text=True,
            env={"TZ": "UTC", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        )
        assert done.returncode == 0, done.stderr
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"dpkg"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) >= 20
    assert_times_from_lines(stored.rows, start, end)
    upgrade = next(row for row in stored.rows if " upgrade " in row[6])
    assert '"new_version":"1.1-1"' in upgrade[5] and '"package":"logscope-probe"' in upgrade[5]
    assert sum('"state":"installed"' in (row[5] or "") for row in stored.rows) == count_lines(
        log, lambda line: " status installed " in line
    )


@pytest.mark.parametrize(
    ("name", "start_marker"), [("history.log", "Start-Date: "), ("term.log", "Log started: ")]
)
def test_apt_logs(name: str, start_marker: str, tmp_path: Path, db: Path) -> None:
    source = Path("/var/log/apt") / name
    if not source.is_file() or start_marker not in source.read_text(errors="replace"):
        pytest.skip(f"{source} holds no apt run (apt-get install writes it; .ci/run does)")
    log = tmp_path / name
    shutil.copyfile(source, log)
    stored = ingest(log, db)
    # The file starts with an empty line before its first run; an empty line is no record.
    assert_parsed(stored, {f"apt_{name.split('.')[0]}"}, share=1.0, ignore_blank=True)
    runs = [line for line in log.read_text(errors="replace").splitlines() if line.startswith(start_marker)]
    records = stored.of(f"apt_{name.split('.')[0]}")
    assert len(records) == len(runs)
    for record, line in zip(records, runs, strict=True):
        written = dt.datetime.strptime(re.sub(" +", " ", line[len(start_marker) :]), "%Y-%m-%d %H:%M:%S")
        assert record[0] == written.replace(tzinfo=UTC)  # ingest runs with TZ=UTC
        assert record[6].startswith(line)


SUPERVISORD_CONF = """[supervisord]
nodaemon=true
logfile={root}/supervisord.log
pidfile={root}/supervisord.pid
childlogdir={root}
[program:steady]
command=/bin/sleep 30
startsecs=0
[program:failing]
command=/bin/sh -c "exit 3"
startsecs=1
startretries=1
"""


@pytest.mark.slow
def test_supervisord_log(tmp_path: Path, db: Path) -> None:
    supervisord = program("supervisord")
    (tmp_path / "supervisord.conf").write_text(SUPERVISORD_CONF.format(root=tmp_path))
    log = tmp_path / "supervisord.log"
    start = now()
    with running([supervisord, "-c", str(tmp_path / "supervisord.conf")], cwd=tmp_path):
        wait_for(
            lambda: log.exists() and "entered FATAL state" in log.read_text(),
            "the failing program to give up",
        )
        time.sleep(0.2)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"supervisord"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool)
    assert_times_from_lines(stored.rows, start, end)
    written = {"CRIT": "critical", "ERRO": "error", "WARN": "warning", "INFO": "info", "DEBG": "debug"}
    expected: dict[str, int] = {}
    for line in log.read_text().splitlines():
        level = written[line.split(" ")[2]]
        expected[level] = expected.get(level, 0) + 1
    assert dict(stored.levels) == expected
    assert stored.levels["warning"] >= 2  # the failing program exited at each of its two starts


def _dmesg(*options: str) -> str:
    dmesg = program("dmesg")
    shown = subprocess.run([dmesg, *options], capture_output=True, text=True, env={"TZ": "UTC"})
    if shown.returncode != 0 or not shown.stdout:
        pytest.skip(f"the kernel ring buffer is not readable here: {shown.stderr.strip()}")
    return shown.stdout


@pytest.mark.parametrize("options", [("-T",), ("--time-format", "iso"), ("-x",), ("-x", "-T")], ids=str)
def test_dmesg(options: tuple[str, ...], tmp_path: Path, db: Path) -> None:
    log = tmp_path / "dmesg.log"
    log.write_text(_dmesg(*options))
    booted = now() - dt.timedelta(seconds=float(Path("/proc/uptime").read_text().split()[0]))
    stored = ingest(log, db)
    assert_parsed(stored, {"dmesg"}, share=1.0)
    # a message with a newline in it is one record: dmesg indents its further lines
    assert len(stored.rows) == count_lines(log, lambda line: bool(line) and not line[0].isspace())
    if "-T" in options or "iso" in options:
        # dmesg -T's times are the boot time plus the uptime stamp: they may drift, but not before boot.
        assert_times_from_lines(stored.rows, booted - dt.timedelta(seconds=5), now())
    if "-x" in options:
        firsts = [line for line in log.read_text().splitlines() if not line[:1].isspace()]
        labels = Counter(line.split(":")[1].strip() for line in firsts)
        names = {"warn": "warning", "err": "error", "crit": "critical", "alert": "critical", "emerg": "fatal"}
        assert dict(stored.levels) == {names.get(label, label): n for label, n in labels.items()}


def test_terraform_tf_log(tmp_path: Path, db: Path) -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed (HashiCorp ships it outside Debian)")
    (tmp_path / "main.tf").write_text('variable "v" {\n  type = number\n  default = "abc"\n}\n')
    log = tmp_path / "terraform.log"
    env = {
        "TF_LOG": "TRACE",
        "TF_LOG_PATH": str(log),
        "CHECKPOINT_DISABLE": "1",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    start = now()
    for command in (["version"], ["validate"]):
        subprocess.run([terraform, *command], cwd=tmp_path, capture_output=True, env=env, timeout=120)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"hclog"}, share=1.0)
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\S* \[")
    assert len(stored.rows) == count_lines(log, lambda line: stamp.match(line) is not None) > 10
    assert_times_from_lines(stored.rows, start, end)
    for level in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR"):
        name = {"WARN": "warning"}.get(level, level.lower())
        assert stored.levels[name] == count_lines(log, lambda line, level=level: f" [{level}] " in line[:40])


GO_PROGRAM = """package main

import (
	"log"
	"os"
)

func main() {
	short := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds|log.Lshortfile)
	for n := 0; n < 50; n++ {
		log.Printf("request %d took %dms", n, 3)
		short.Println("with microseconds and file")
	}
	var m map[string]int
	m["x"] = 1
}
"""


def test_go_log_with_panic(tmp_path: Path, db: Path) -> None:
    prog, env = go_program(tmp_path, GO_PROGRAM)
    log = tmp_path / "prog.log"
    start = now()
    with log.open("w") as stderr:
        ran = subprocess.run([str(prog)], cwd=tmp_path, env=env, stderr=stderr)
    end = now()
    assert ran.returncode == 2  # the panic
    stored = ingest(log, db)
    assert_parsed(stored, {"go_log"}, share=1.0)
    assert (
        len(stored.rows)
        == count_lines(log, lambda line: re.match(r"\d{4}/\d\d/\d\d ", line) is not None)
        == 100
    )
    assert_times_from_lines(stored.rows, start, end)
    assert "\npanic: assignment to entry in nil map\n" in stored.rows[-1][4]
    assert sum('"file":"main.go"' in (row[5] or "") for row in stored.rows) == 50


PLAYBOOK = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: say hello
      debug:
        msg: hello
    - name: fail on purpose
      command: /bin/false
      ignore_errors: true
    - name: run a command
      command: /bin/true
"""


@pytest.mark.slow
def test_ansible_log(tmp_path: Path, db: Path) -> None:
    playbook = program("ansible-playbook")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    log = tmp_path / "ansible.log"
    env = {
        "TZ": "UTC",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ANSIBLE_LOG_PATH": str(log),
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }
    start = now()
    subprocess.run(
        [playbook, "-i", "localhost,", "play.yml"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"ansible"}, share=1.0)
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} p=\d+ ")
    assert len(stored.rows) == count_lines(log, lambda line: stamp.match(line) is not None) >= 8
    assert_times_from_lines(stored.rows, start, end)
    assert stored.levels["error"] == count_lines(log, lambda line: "| fatal: " in line) == 1
    assert any(row[4] == 'ok: [localhost] => {\n    "msg": "hello"\n}' for row in stored.rows)
