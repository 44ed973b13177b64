"""Real web servers and proxies write their logs; `logscope ingest` must read them as written.

nginx (access and error log), HAProxy in front of it (on stderr, and through rsyslog, where the
HAProxy format must win over plain syslog), Squid (access.log and cache.log) and Apache (error log
and Debian's `vhost_combined` access log) each run on a private port in a temporary directory.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
from collections import Counter
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    free_port,
    get_statuses,
    http_get,
    ingest,
    now,
    program,
    running,
    shared_dir,
    wait_for,
    wait_port,
)

NGINX_PORT = free_port(47430)
HAPROXY_PORT = free_port(47431)
RSYSLOG_PORT = free_port(47432)
SQUID_PORT = free_port(47433)
APACHE_PORT = free_port(47434)
CLOSED_PORT = free_port(47499)  # nothing listens here: upstream errors
REQUESTS = 100
PATHS = ["/"] * (REQUESTS - 20) + ["/missing"] * 10 + ["/up"] * 10  # 200, 404, 502


def _nginx_conf(root: Path) -> str:
    temp = " ".join(
        f"{kind}_temp_path {root}/tmp;" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {root}/access.log combined;
  {temp}
  server {{
    listen 127.0.0.1:{NGINX_PORT};
    root {root}/html;
    location /up {{ proxy_pass http://127.0.0.1:{CLOSED_PORT}; }}
  }}
}}
"""


def _haproxy_conf() -> str:
    return f"""global
  log stderr format raw local0 info
  log 127.0.0.1:{RSYSLOG_PORT} local0 info
defaults
  mode http
  log global
  option httplog
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:{HAPROXY_PORT}
  default_backend be
backend be
  server s1 127.0.0.1:{NGINX_PORT}
"""


def _rsyslog_conf(root: Path) -> str:
    return f"""module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{RSYSLOG_PORT}")
$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
local0.* {root}/haproxy.log
"""


@pytest.mark.slow
def test_nginx_and_haproxy_on_stderr_and_through_rsyslog(tmp_path: Path) -> None:
    nginx, haproxy, rsyslogd = program("nginx"), program("haproxy"), program("rsyslogd")
    with shared_dir("web") as root:
        (root / "html").mkdir()
        (root / "tmp").mkdir()
        (root / "html" / "index.html").write_text("hello\n")
        (root / "nginx.conf").write_text(_nginx_conf(root))
        (root / "haproxy.cfg").write_text(_haproxy_conf())
        (root / "rsyslog.conf").write_text(_rsyslog_conf(root))
        start = now()
        with (
            running([nginx, "-c", f"{root}/nginx.conf", "-e", f"{root}/error.log"], cwd=root) as web,
            running([rsyslogd, "-n", "-f", f"{root}/rsyslog.conf", "-i", f"{root}/rsyslog.pid"], cwd=root),
            running(
                [haproxy, "-f", f"{root}/haproxy.cfg", "-db"], cwd=root, log_name="haproxy.stderr"
            ) as proxy,
        ):
            wait_port(NGINX_PORT, web)
            wait_port(HAPROXY_PORT, proxy)
            statuses = Counter(get_statuses(HAPROXY_PORT, PATHS))
            assert statuses == {200: REQUESTS - 20, 404: 10, 502: 10}
            wait_for(
                lambda: count_lines(root / "haproxy.log", lambda line: "haproxy[" in line) >= REQUESTS,
                "rsyslog to write HAProxy's lines",
            )
        end = now()
        _check_nginx(root, tmp_path, start, end)
        _check_haproxy(root, tmp_path, start, end)


def _check_nginx(root: Path, tmp_path: Path, start, end) -> None:
    access = ingest(root / "access.log", tmp_path / "nginx.duckdb")
    assert_parsed(access, {"nginx_access"}, share=1.0)
    assert len(access.rows) == REQUESTS
    assert_times_from_lines(access.rows, start, end)
    assert access.levels == {"info": REQUESTS - 20, "warning": 10, "error": 10}
    errors = ingest(root / "error.log", tmp_path / "nginx.duckdb")
    assert_parsed(errors, {"nginx_error"}, share=1.0)
    assert len(errors.rows) == count_lines(root / "error.log", bool)
    assert_times_from_lines(errors.rows, start, end)
    written = Counter(
        re.search(r" \[(\w+)\] ", line)[1] for line in (root / "error.log").read_text().splitlines()
    )
    assert dict(errors.levels) == dict(written)
    assert errors.levels["error"] == 20  # 10 missing files, 10 refused upstream connections


def _check_haproxy(root: Path, tmp_path: Path, start, end) -> None:
    log = root / "haproxy.stderr"
    stderr = ingest(log, tmp_path / "haproxy.duckdb")
    assert_parsed(stderr, {"haproxy_http_stderr"}, share=1.0)
    # One line per request, and one `<BADREQ>` 400 for the port probe that connected and left.
    assert len(stderr.rows) == count_lines(log, bool) >= REQUESTS
    assert_times_from_lines(stderr.rows, start, end)
    assert stderr.levels == _levels_by_status(log, r"\] \S+ \S+ \S+ (\d{3}) ")
    syslog = ingest(root / "haproxy.log", tmp_path / "haproxy.duckdb")
    relayed = [row for row in syslog.rows if "haproxy[" in row[6]]
    assert len(relayed) == len(stderr.rows)
    assert {row[2] for row in relayed} == {"haproxy_http"}  # the specific format wins over syslog
    assert_times_from_lines(relayed, start, end)
    assert Counter(row[3] for row in relayed) == stderr.levels  # levels from the statuses, as on stderr


def _levels_by_status(log: Path, status_pattern: str) -> Counter[str]:
    """The levels the HTTP statuses written in the log stand for: 5xx error, 4xx warning, else info."""
    levels: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        status = re.search(status_pattern, line)[1]
        levels[{"5": "error", "4": "warning"}.get(status[0], "info")] += 1
    return levels


def _squid_conf(root: Path) -> str:
    return f"""http_port 127.0.0.1:{SQUID_PORT}
pid_filename {root}/squid.pid
cache_log {root}/cache.log
access_log stdio:{root}/access.log squid
cache_store_log none
coredump_dir {root}
cache_mem 8 MB
pinger_enable off
netdb_filename none
http_access allow localhost
http_access deny all
shutdown_lifetime 0 seconds
"""


@pytest.mark.slow
def test_squid_access_and_cache_logs(tmp_path: Path) -> None:
    squid = program("squid")
    with shared_dir("squid") as root:
        (root / "squid.conf").write_text(_squid_conf(root))
        start = now()
        with running([squid, "-N", "-f", f"{root}/squid.conf"], cwd=root, port=SQUID_PORT) as server:
            proxy = f"http://127.0.0.1:{SQUID_PORT}"
            statuses = Counter(http_get(f"http://127.0.0.1:{CLOSED_PORT}/n{n}", proxy) for n in range(50))
            assert statuses == {503: 50}
            server.send_signal(signal.SIGTERM)
            server.wait(20)
        end = now()
        access = ingest(root / "access.log", tmp_path / "squid.duckdb")
        assert_parsed(access, {"squid_access"}, share=1.0)
        # One line per request, and one (`NONE_NONE/000`) for the port probe that connected and left.
        assert len(access.rows) == count_lines(root / "access.log", bool) >= 50
        assert_times_from_lines(access.rows, start, end)
        assert access.levels == _levels_by_status(root / "access.log", r" [A-Z_]+/(\d{3}) ")
        assert access.levels["error"] == 50
        cache = ingest(root / "cache.log", tmp_path / "squid.duckdb")
        assert_parsed(cache, {"squid_cache"}, share=1.0)
        timestamped = count_lines(
            root / "cache.log", lambda line: re.match(r"\d{4}/\d\d/\d\d ", line) is not None
        )
        assert len(cache.rows) == timestamped
        assert_times_from_lines(cache.rows, start, end)
        assert cache.levels["error"] == count_lines(root / "cache.log", lambda line: "| ERROR:" in line)
        assert any("\nMaximum Resident Size: " in row[4] for row in cache.rows)


def _apache_conf(root: Path) -> str:
    modules = "\n".join(
        f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so"
        for name in ("mpm_event", "authz_core", "dir", "mime")
    )
    return f"""ServerRoot {root}
ServerName localhost
Listen 127.0.0.1:{APACHE_PORT}
PidFile {root}/httpd.pid
DefaultRuntimeDir {root}
{modules}
TypesConfig /etc/mime.types
ErrorLog {root}/error.log
LogLevel info
LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" vhost_combined
CustomLog {root}/other_vhosts_access.log vhost_combined
DocumentRoot {root}/html
<Directory {root}/html>
  Require all granted
</Directory>
<Location /secret>
  Require all denied
</Location>
"""


@pytest.mark.slow
def test_apache_error_log_and_vhost_combined(tmp_path: Path) -> None:
    apache2 = program("apache2")
    with shared_dir("apache") as root:
        (root / "html").mkdir()
        (root / "html" / "index.html").write_text("hi\n")
        (root / "httpd.conf").write_text(_apache_conf(root))
        start = now()
        argv = [apache2, "-f", f"{root}/httpd.conf", "-DFOREGROUND"]
        with running(argv, cwd=root, port=APACHE_PORT):
            paths = ["/"] * 80 + ["/missing"] * 10 + ["/secret"] * 10
            statuses = Counter(get_statuses(APACHE_PORT, paths))
            assert statuses == {200: 80, 404: 10, 403: 10}
        end = now()
        access = ingest(root / "other_vhosts_access.log", tmp_path / "apache.duckdb")
        assert_parsed(access, {"apache_vhost_combined"}, share=1.0)
        assert len(access.rows) == 100
        assert_times_from_lines(access.rows, start, end)
        assert access.levels == {"info": 80, "warning": 20}
        errors = ingest(root / "error.log", tmp_path / "apache.duckdb")
        assert_parsed(errors, {"apache_error"}, share=1.0)
        assert len(errors.rows) == count_lines(root / "error.log", bool)
        assert_times_from_lines(errors.rows, start, end)
        assert (
            errors.levels["error"] == count_lines(root / "error.log", lambda line: ":error] " in line) == 10
        )


HAPROXY_TCP_PORT = free_port(47436)
HAPROXY_TCP_DEAD_PORT = free_port(47437)
ECHO_PORT = free_port(47438)


def _haproxy_tcp_conf() -> str:
    return f"""global
  log stderr format raw local0 info
defaults
  mode tcp
  log global
  option tcplog
  timeout connect 10s
  timeout client 10s
  timeout server 10s
frontend live
  bind 127.0.0.1:{HAPROXY_TCP_PORT}
  default_backend echo
frontend dead
  bind 127.0.0.1:{HAPROXY_TCP_DEAD_PORT}
  default_backend closed
backend echo
  server s1 127.0.0.1:{ECHO_PORT}
backend closed
  server s1 127.0.0.1:{CLOSED_PORT}
"""


def _exchange(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"ping\n")
        conn.shutdown(socket.SHUT_WR)
        return conn.recv(100)


@pytest.mark.slow
def test_haproxy_tcp_log(tmp_path: Path, db: Path) -> None:
    haproxy = program("haproxy")
    with socket.create_server(("127.0.0.1", ECHO_PORT)) as echo:
        stop = threading.Event()

        def serve() -> None:
            echo.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = echo.accept()
                except TimeoutError:
                    continue
                # wait_port's probe closes at once, and haproxy resets the backend
                # connection it opened for it: the echo must outlive that reset.
                with conn, contextlib.suppress(OSError):
                    conn.settimeout(10)
                    conn.sendall(conn.recv(100))

        server_thread = threading.Thread(target=serve, daemon=True)
        server_thread.start()
        (tmp_path / "haproxy.cfg").write_text(_haproxy_tcp_conf())
        start = now()
        argv = [haproxy, "-f", str(tmp_path / "haproxy.cfg"), "-db"]
        with running(argv, cwd=tmp_path, log_name="haproxy.stderr", port=HAPROXY_TCP_PORT):
            assert [_exchange(HAPROXY_TCP_PORT) for _ in range(20)] == [b"ping\n"] * 20
            assert {_exchange(HAPROXY_TCP_DEAD_PORT) for _ in range(3)} == {b""}
            wait_for(
                lambda: count_lines(tmp_path / "haproxy.stderr", lambda line: " dead " in line) >= 3,
                "the refused connections' log lines",
            )
        end = now()
        stop.set()
        server_thread.join()
    log = tmp_path / "haproxy.stderr"
    stored = ingest(log, db)
    assert_parsed(stored, {"haproxy_tcp"}, share=1.0)
    assert len(stored.rows) == count_lines(log, bool) >= 23  # and the probe's connection
    assert_times_from_lines(stored.rows, start, end)
    refused = [row for row in stored.rows if '"frontend":"dead"' in row[5]]
    assert len(refused) == 3 and {row[3] for row in refused} == {"warning"}
    assert sum(row[3] == "info" for row in stored.rows) >= 20
