"""Network services write their logs; `logscope ingest` must read them as written.

Mosquitto (MQTT), BIND and dnsmasq (DNS), chrony (NTP), lighttpd and Caddy each run on a private
port in a temporary directory, serve a few requests, stop, and their logs are ingested.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections import Counter
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    free_port,
    get_statuses,
    ingest,
    now,
    program,
    running,
    shared_dir,
    wait_for,
)

MOSQUITTO_PORT = free_port(47482)
BIND_PORT = free_port(47484)
DNSMASQ_PORT = free_port(47485)
LIGHTTPD_PORT = free_port(47486)
CADDY_PORT = free_port(47487)
MQTT_CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"  # CONNECT, clean session, no client id


def _dns_query(port: int, name: str, query_id: int) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    packet = (
        query_id.to_bytes(2, "big")
        + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        + labels
        + b"\x00\x00\x01\x00\x01"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(packet, ("127.0.0.1", port))
        return sock.recv(512)


def test_mosquitto_log(tmp_path: Path, db: Path) -> None:
    mosquitto = program("mosquitto")
    with shared_dir("mosquitto") as root:
        log = root / "mosquitto.log"
        (root / "mosquitto.conf").write_text(
            f"listener {MOSQUITTO_PORT} 127.0.0.1\nallow_anonymous true\nlog_dest file {log}\nlog_type all\n"
        )
        start = now()
        with running([mosquitto, "-c", str(root / "mosquitto.conf")], cwd=root, port=MOSQUITTO_PORT):
            for _ in range(10):
                with socket.create_connection(("127.0.0.1", MOSQUITTO_PORT), timeout=5) as client:
                    client.sendall(MQTT_CONNECT)
                    assert client.recv(4) == b" \x02\x00\x00"  # CONNACK, accepted
            wait_for(
                lambda: log.read_text().count("closed its connection") >= 10, "the clients' disconnections"
            )
        end = now()
        stored = ingest(log, db)
        written = count_lines(log, bool)
    assert_parsed(stored, {"mosquitto"}, share=1.0)
    assert len(stored.rows) == written >= 40
    assert_times_from_lines(stored.rows, start, end)
    assert sum("New client connected" in row[4] for row in stored.rows) == 10


def test_bind9_log_with_severity(tmp_path: Path, db: Path) -> None:
    named = program("named")
    with shared_dir("bind") as root:
        log = root / "named.log"
        (root / "good.zone").write_text(
            "$TTL 60\n@ IN SOA ns admin 1 60 60 60 60\n@ IN NS ns\nns IN A 127.0.0.1\nwww IN A 127.0.0.2\n"
        )
        (root / "broken.zone").write_text("$TTL 60\n@ IN SOA ns admin 1 60 60 60 60\nwww IN A 999.1.1.1\n")
        (root / "named.conf").write_text(
            f'options {{ directory "{root}"; listen-on port {BIND_PORT} {{ 127.0.0.1; }};\n'
            "  listen-on-v6 { none; };\n"
            f'  pid-file "{root}/named.pid"; recursion no; }};\n'
            f'zone "example.test" {{ type primary; file "{root}/good.zone"; }};\n'
            f'zone "broken.test" {{ type primary; file "{root}/broken.zone"; }};\n'
            f'logging {{ channel to_file {{ file "{log}"; print-time yes; print-severity yes;\n'
            "  print-category yes;\n"
            "  severity info; }; category default { to_file; }; category general { to_file; }; };\n"
        )
        start = now()
        argv = [named, "-f", "-c", str(root / "named.conf")]
        with running(argv, cwd=root) as server:
            wait_for(lambda: log.exists() and "running" in log.read_text(), "named to be running", timeout=30)
            if server.poll() is not None:
                raise AssertionError((root / "server.out").read_text())
            answers = [_dns_query(BIND_PORT, "www.example.test", n) for n in range(5)]
            assert all(answer[3] & 0x0F == 0 for answer in answers)  # NOERROR
        end = now()
        stored = ingest(log, db)
        written_errors = count_lines(log, lambda line: " error: " in line[:60])
        written_lines = count_lines(
            log, lambda line: re.match(r"\d\d-[A-Z][a-z]{2}-\d{4} ", line) is not None
        )
    assert_parsed(stored, {"bind9"}, share=1.0)
    assert len(stored.rows) == written_lines
    assert_times_from_lines(stored.rows, start, end)
    assert stored.levels["error"] == written_errors >= 2  # the broken zone
    assert {row[3] for row in stored.rows} <= {"info", "notice", "warning", "error", "critical"}


def test_dnsmasq_log_facility_file(tmp_path: Path, db: Path) -> None:
    dnsmasq = program("dnsmasq")
    log = tmp_path / "dnsmasq.log"
    argv = [
        dnsmasq,
        "-k",
        "--conf-file=/dev/null",
        f"--port={DNSMASQ_PORT}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--address=/example.test/127.0.0.2",
        "--log-queries",
        f"--log-facility={log}",
        f"--pid-file={tmp_path}/dnsmasq.pid",
    ] + (["--user=root"] if _root() else [])
    start = now()
    with running(argv, cwd=tmp_path):
        wait_for(lambda: log.exists() and "started" in log.read_text(), "dnsmasq to start")
        for n in range(20):
            assert len(_dns_query(DNSMASQ_PORT, "www.example.test", n)) > 12
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"dnsmasq"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) >= 40
    assert_times_from_lines(stored.rows, start, end)
    assert stored.levels["warning"] == count_lines(log, lambda line: "]: warning" in line) >= 1
    assert sum(row[4].startswith("query[A] www.example.test") for row in stored.rows) == 20


def _root() -> bool:
    return os.geteuid() == 0


@pytest.mark.slow
def test_lighttpd_error_and_access_logs(tmp_path: Path, db: Path) -> None:
    lighttpd = program("lighttpd")
    with shared_dir("lighttpd") as root:
        (root / "www").mkdir()
        (root / "www" / "index.html").write_text("hi\n")
        (root / "lighttpd.conf").write_text(
            f'server.document-root = "{root}/www"\nserver.port = {LIGHTTPD_PORT}\nserver.bind = "127.0.0.1"\n'
            f'server.errorlog = "{root}/error.log"\nserver.pid-file = "{root}/lighttpd.pid"\n'
            f'server.modules = ("mod_accesslog")\naccesslog.filename = "{root}/access.log"\n'
            'index-file.names = ("index.html")\n'
        )
        start = now()
        with running([lighttpd, "-D", "-f", str(root / "lighttpd.conf")], cwd=root, port=LIGHTTPD_PORT):
            statuses = get_statuses(LIGHTTPD_PORT, ["/"] * 30 + ["/nope"] * 5)
            assert statuses.count(404) == 5
        wait_for(lambda: "server stopped" in (root / "error.log").read_text(), "lighttpd to stop")
        end = now()
        errors = ingest(root / "error.log", db)
        access = ingest(root / "access.log", db)
    assert_parsed(errors, {"lighttpd_error"}, share=1.0)
    assert len(errors.rows) >= 2 and "server started" in errors.rows[0][4]
    assert_times_from_lines(errors.rows, start, end)
    assert_parsed(access, {"nginx_access"}, share=1.0)  # lighttpd's access log is the combined format
    assert len(access.rows) == 35
    assert access.levels == {"info": 30, "warning": 5}


def test_chrony_log(tmp_path: Path, db: Path) -> None:
    chronyd = program("chronyd")
    (tmp_path / "chrony.conf").write_text(
        f"server 127.0.0.1 port 47499 iburst\ndriftfile {tmp_path}/drift\ncmdport 0\nbindaddress 127.0.0.1\n"
        f"pidfile {tmp_path}/chronyd.pid\n"
    )
    argv = [chronyd, "-d", "-x", "-f", str(tmp_path / "chrony.conf")] + (["-u", "root"] if _root() else [])
    start = now()
    with running(argv, cwd=tmp_path, log_name="chrony.log"):
        wait_for(lambda: "starting" in (tmp_path / "chrony.log").read_text(), "chronyd to start")
        time.sleep(0.5)
    end = now()
    log = tmp_path / "chrony.log"
    stored = ingest(log, db)
    # chronyd writes `ISO-time message`, no level: the generic fallback reads it (a format of its
    # own would claim every line that begins with such a time).
    assert_parsed(stored, {"generic"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) >= 3
    assert_times_from_lines(stored.rows, start, end)
    assert "exiting" in stored.rows[-1][4]


@pytest.mark.slow
def test_caddy_json_logs(tmp_path: Path, db: Path) -> None:
    caddy = program("caddy")
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hi\n")
    (tmp_path / "Caddyfile").write_text(
        "{\n  admin off\n  auto_https off\n  log {\n    output file " + f"{tmp_path}/caddy.log\n  }}\n}}\n"
        f"http://127.0.0.1:{CADDY_PORT} {{\n  root * {tmp_path}/www\n  file_server\n"
        f"  log {{\n    output file {tmp_path}/access.log\n  }}\n}}\n"
    )
    env_home = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    start = now()
    argv = [
        "env",
        *(f"{k}={v}" for k, v in env_home.items()),
        caddy,
        "run",
        "--config",
        "Caddyfile",
        "--adapter",
        "caddyfile",
    ]
    with running(argv, cwd=tmp_path, port=CADDY_PORT):
        statuses = get_statuses(CADDY_PORT, ["/"] * 20 + ["/nope"] * 5)
        assert statuses.count(404) == 5
    end = now()
    access = ingest(tmp_path / "access.log", db)
    assert_parsed(access, {"caddy"}, share=1.0)
    assert len(access.rows) == 25
    assert_times_from_lines(access.rows, start, end)
    assert access.levels == {"info": 20, "error": 5}  # Caddy logs 4xx/5xx responses at level error
    server_log = ingest(tmp_path / "caddy.log", db)
    assert_parsed(server_log, {"caddy", "json"}, share=1.0)
    without_logger = count_lines(tmp_path / "caddy.log", lambda line: '"logger":' not in line)
    assert server_log.formats["json"] == without_logger
    assert_times_from_lines(server_log.rows, start, end)
    written = count_lines(tmp_path / "caddy.log", lambda line: '"level":"warn"' in line)
    assert server_log.levels["warning"] == written >= 1


UNBOUND_PORT = free_port(47494)


def test_unbound_log(tmp_path: Path, db: Path) -> None:
    unbound = program("unbound")
    with shared_dir("unbound") as root:
        log = root / "unbound.log"
        (root / "unbound.conf").write_text(
            f'server:\n  interface: 127.0.0.1\n  port: {UNBOUND_PORT}\n  do-ip6: no\n  username: ""\n'
            f'  chroot: ""\n  directory: "{root}"\n  pidfile: "{root}/unbound.pid"\n  logfile: "{log}"\n'
            "  verbosity: 1\n  log-queries: yes\n  do-daemonize: no\n  use-syslog: no\n"
            '  local-zone: "example.test." static\n  local-data: "www.example.test. A 127.0.0.2"\n'
            "remote-control:\n  control-enable: no\n"
        )
        start = now()
        with running([unbound, "-d", "-c", str(root / "unbound.conf")], cwd=root):
            wait_for(lambda: log.exists() and "start of service" in log.read_text(), "unbound to start")
            for n in range(20):
                assert len(_dns_query(UNBOUND_PORT, "www.example.test", n)) > 12
        end = now()
        stored = ingest(log, db)
        written = count_lines(log, bool)
        levels = Counter(re.search(r"\] (\w+): ", line)[1] for line in log.read_text().splitlines())
    assert_parsed(stored, {"unbound"}, share=1.0)
    assert len(stored.rows) == written >= 25
    assert_times_from_lines(stored.rows, start, end)
    assert dict(stored.levels) == dict(levels)
    assert sum(row[4] == "127.0.0.1 www.example.test. A IN" for row in stored.rows) == 20
