"""Listeners with real clients: util-linux logger, Python's SysLogHandler, raw sockets, a shell pipe.

Each test runs the real CLI (`logscope ingest --follow SPEC`) in a subprocess, sends with a real
client, stops the CLI with SIGTERM and checks the parsed records in the DuckDB file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import cli_env, query_db, run_cli

from logscope.parsing.time_values import infer_year

LOGGER = shutil.which("logger")
needs_logger = pytest.mark.skipif(LOGGER is None, reason="util-linux logger is not installed")
HOSTNAME = socket.gethostname()


class Follower:
    """`logscope ingest --follow SPEC...` running in a subprocess, with the addresses it reports."""

    def __init__(self, db: Path, *specs: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "logscope", "ingest", "--follow", *specs, "--db", str(db)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 30
        while len(self.addresses) < len(specs):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"listeners did not start: {self.lines}")
            time.sleep(0.02)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def addresses(self) -> list[str]:
        prefix = "logscope: listening on "
        return [line[len(prefix) :] for line in list(self.lines) if line.startswith(prefix)]

    def port(self, index: int = 0) -> int:
        return int(self.addresses[index].rsplit(":", 1)[1])

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit status and everything written to stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=60)
        self._reader.join(10)
        return status, "\n".join(self.lines)


def logger(*args: str) -> None:
    subprocess.run([LOGGER, *args], check=True, timeout=30)


def rows(db: Path, where: str = "true") -> list[tuple]:
    """(source, host, format, level, message, fields as dict) of matching records, in order."""
    import json

    found = query_db(
        db, f"SELECT source, host, format, level, message, fields FROM logs WHERE {where} ORDER BY id"
    )
    return [(*row[:5], json.loads(row[5]) if row[5] else {}) for row in found]


@needs_logger
@pytest.mark.slow
def test_logger_over_udp_in_rfc3164_and_rfc5424(tmp_path: Path) -> None:
    db = tmp_path / "udp.duckdb"
    follower = Follower(db, "udp://127.0.0.1:0")
    port = str(follower.port())
    logger(
        "-n",
        "127.0.0.1",
        "-P",
        port,
        "-d",
        "--rfc3164",
        "-p",
        "local3.err",
        "-t",
        "billing",
        "--id=4242",
        "card declined",
    )
    logger(
        "-n",
        "127.0.0.1",
        "-P",
        port,
        "-d",
        "--rfc5424",
        "-p",
        "daemon.warning",
        "-t",
        "queue",
        "--msgid",
        "Q7",
        "--sd-id",
        "zoo@123",
        "--sd-param",
        'tiger="hungry"',
        "--sd-param",
        'zebra="running"',
        "backlog growing",
    )
    status, stderr = follower.stop()
    assert status == 0, stderr
    (bsd, ietf) = rows(db)
    source = follower.addresses[0]
    assert bsd[:5] == (source, HOSTNAME.split(".")[0], "syslog", "error", "card declined")
    assert bsd[5]["facility"] == "local3" and bsd[5]["severity"] == "err"
    assert (bsd[5]["app"], bsd[5]["pid"]) == ("billing", 4242)
    assert bsd[5]["peer"].startswith("127.0.0.1:")
    assert ietf[:5] == (source, HOSTNAME, "syslog5424", "warning", "backlog growing")
    assert ietf[5]["facility"] == "daemon" and ietf[5]["app"] == "queue" and ietf[5]["msgid"] == "Q7"
    assert ietf[5]["zoo@123"] == {"tiger": "hungry", "zebra": "running"}
    assert "tzKnown" in ietf[5]["timeQuality"]
    # The RFC 5424 time carries its zone: stored as sent, to the microsecond.
    (sent_ts,) = query_db(db, "SELECT epoch_us(ts) FROM logs WHERE format = 'syslog5424'")[0]
    assert abs(sent_ts / 1e6 - time.time()) < 120


@needs_logger
@pytest.mark.slow
def test_logger_over_tcp_newline_and_octet_counting(tmp_path: Path) -> None:
    db = tmp_path / "tcp.duckdb"
    follower = Follower(db, "tcp://127.0.0.1:0")
    port = str(follower.port())
    base = ("-n", "127.0.0.1", "-P", port, "-T")
    logger(*base, "--rfc3164", "-p", "auth.info", "-t", "sshd", "--id=99", "Accepted publickey for deploy")
    logger(
        *base,
        "--octet-count",
        "--rfc5424",
        "-p",
        "user.crit",
        "-t",
        "api",
        "--msgid",
        "E500",
        "--sd-id",
        "req@32473",
        "--sd-param",
        'path="/v1/items"',
        "upstream failed",
    )
    logger(*base, "--octet-count", "--rfc3164", "-t", "cron", "octet counted bsd")
    logger(*base, "--rfc5424", "-t", "worker", "newline framed 5424")
    status, stderr = follower.stop()
    assert status == 0, stderr
    found = {row[4]: row for row in rows(db)}
    assert set(found) == {
        "Accepted publickey for deploy",
        "upstream failed",
        "octet counted bsd",
        "newline framed 5424",
    }
    sshd = found["Accepted publickey for deploy"]
    assert sshd[2:4] == ("syslog", "info")
    assert sshd[5]["facility"] == "auth" and sshd[5]["app"] == "sshd" and sshd[5]["pid"] == 99
    api = found["upstream failed"]
    assert api[1:4] == (HOSTNAME, "syslog5424", "critical")
    assert api[5]["msgid"] == "E500" and api[5]["req@32473"] == {"path": "/v1/items"}
    assert found["octet counted bsd"][5]["app"] == "cron"
    assert found["newline framed 5424"][2] == "syslog5424"
    assert all(
        row[0] == follower.addresses[0] and row[5]["peer"].startswith("127.0.0.1:") for row in found.values()
    )


@needs_logger
@pytest.mark.slow
def test_logger_over_unix_stream_and_datagram_sockets(tmp_path: Path) -> None:
    db = tmp_path / "unix.duckdb"
    stream_path, datagram_path = tmp_path / "app.sock", tmp_path / "dev-log"
    follower = Follower(db, f"unix://{stream_path}", f"unixgram://{datagram_path}")
    for path in (stream_path, datagram_path):
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    logger("-u", str(stream_path), "-T", "--rfc3164", "-t", "stream-app", "over a unix stream")
    logger(
        "-u",
        str(stream_path),
        "-T",
        "--octet-count",
        "--rfc5424",
        "--sd-id",
        "a@1",
        "--sd-param",
        'k="v"',
        "-t",
        "stream5424",
        "octets over a unix stream",
    )
    logger("-u", str(datagram_path), "-d", "-p", "mail.notice", "-t", "postfix", "--id=7", "like /dev/log")
    logger("-u", str(datagram_path), "-d", "--rfc5424", "-t", "dgram5424", "5424 datagram")
    status, stderr = follower.stop()
    assert status == 0, stderr
    assert not stream_path.exists() and not datagram_path.exists()
    found = {row[4]: row for row in rows(db)}
    stream = found["over a unix stream"]
    assert stream[0] == f"unix://{stream_path}" and stream[2] == "syslog"
    assert stream[1] == HOSTNAME  # local peers: the host we run on
    assert stream[5]["app"] == "stream-app" and stream[5]["peer"].startswith("pid=")
    assert found["octets over a unix stream"][5]["a@1"] == {"k": "v"}
    dev_log = found["like /dev/log"]
    assert dev_log[0] == f"unixgram://{datagram_path}" and dev_log[1] == HOSTNAME
    assert dev_log[3] == "notice" and dev_log[5]["facility"] == "mail" and dev_log[5]["pid"] == 7
    assert found["5424 datagram"][2] == "syslog5424"


@pytest.mark.slow
def test_python_sysloghandler_over_udp_and_tcp(tmp_path: Path) -> None:
    db = tmp_path / "python.duckdb"
    follower = Follower(db, "udp://127.0.0.1:0", "tcp://127.0.0.1:0")
    log = logging.getLogger("logscope-test-syslog")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    handlers = [
        logging.handlers.SysLogHandler(
            ("127.0.0.1", follower.port(0)), logging.handlers.SysLogHandler.LOG_LOCAL0
        ),
        logging.handlers.SysLogHandler(("127.0.0.1", follower.port(1)), socktype=socket.SOCK_STREAM),
    ]
    for handler in handlers:
        handler.ident = "pyapp: "
        log.addHandler(handler)
    try:
        log.debug("cache warm %d", 1)
        log.warning("slow query took %d ms", 1200)
        log.error("payment failed: %s", "timeout")
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()
    status, stderr = follower.stop()
    assert status == 0, stderr
    for index, facility in ((0, "local0"), (1, "user")):
        got = rows(db, f"source = '{follower.addresses[index]}'")
        assert [(row[3], row[4]) for row in got] == [
            ("debug", "cache warm 1"),
            ("warning", "slow query took 1200 ms"),
            ("error", "payment failed: timeout"),
        ]
        for row in got:
            # No hostname in what SysLogHandler sends: the peer's address fills `host`.
            assert row[1] == "127.0.0.1" and row[2] == "syslog"
            assert row[5]["app"] == "pyapp" and row[5]["facility"] == facility
            assert row[5]["peer"].startswith("127.0.0.1:")


@pytest.mark.slow
def test_shell_pipe_into_ingest_stdin(tmp_path: Path) -> None:
    db = tmp_path / "pipe.duckdb"
    lines = (
        "Oct 11 22:14:15 web-1 sshd[4242]: Failed password for root from 10.0.0.9 port 22 ssh2\\n"
        "Oct 11 22:14:16 web-1 sshd[4242]: Connection closed by 10.0.0.9\\n"
    )
    command = f"printf '{lines}' | {sys.executable} -m logscope ingest - --db {db} --format syslog"
    result = subprocess.run(command, shell=True, capture_output=True, text=True, env=cli_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    got = rows(db)
    assert [(row[0], row[1], row[2], row[4]) for row in got] == [
        ("stdin", "web-1", "syslog", "Failed password for root from 10.0.0.9 port 22 ssh2"),
        ("stdin", "web-1", "syslog", "Connection closed by 10.0.0.9"),
    ]
    # "Failed" in a line without a PRI: an inferred error level, marked (docs/formats.md)
    assert got[0][5] == {"app": "sshd", "pid": 4242, "level_inferred": True}
    year = infer_year(10, 11, datetime.now(UTC))
    (first,) = query_db(db, "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S') FROM logs ORDER BY id LIMIT 1")[0]
    assert first == f"{year}-10-11 22:14:15"


def _send_and_wait_for_close(port: int, payload: bytes) -> None:
    """Send everything, then wait until the listener has taken it all and closed its side."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as client:
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        while client.recv(4096):
            pass


@pytest.mark.slow
def test_four_tcp_clients_with_50000_messages_each_lose_none(tmp_path: Path) -> None:
    db = tmp_path / "load.duckdb"
    follower = Follower(db, "tcp://127.0.0.1:0")
    per_client = 50_000
    payloads = []
    for client in range(4):
        if client % 2:  # two clients frame by octet counting, two by newline
            frames = []
            for i in range(per_client):
                body = (
                    f"<14>1 2026-11-26T10:00:00.{i % 1000:06d}Z host{client} client{client} - - - message {i}"
                )
                frames.append(f"{len(body)} {body}")
            payloads.append("".join(frames).encode())
        else:
            payloads.append(
                "".join(
                    f"<14>Nov 26 10:00:00 host{client} client{client}[{client}]: message {i}\n"
                    for i in range(per_client)
                ).encode()
            )
    senders = [
        threading.Thread(target=_send_and_wait_for_close, args=(follower.port(), data)) for data in payloads
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(300)
    status, stderr = follower.stop()
    assert status == 0, stderr
    counts = query_db(
        db,
        "SELECT host, count(*), count(DISTINCT message), min(format), max(format)"
        " FROM logs GROUP BY host ORDER BY host",
    )
    assert counts == [
        ("host0", per_client, per_client, "syslog", "syslog"),
        ("host1", per_client, per_client, "syslog5424", "syslog5424"),
        ("host2", per_client, per_client, "syslog", "syslog"),
        ("host3", per_client, per_client, "syslog5424", "syslog5424"),
    ]


@pytest.mark.slow
def test_idle_broken_and_garbage_clients_do_not_disturb_others(tmp_path: Path) -> None:
    db = tmp_path / "rude.duckdb"
    follower = Follower(db, "tcp://127.0.0.1:0?max_message=1k")
    address = ("127.0.0.1", follower.port())
    idle = socket.create_connection(address)  # connects and never sends
    half = socket.create_connection(address)  # sends half a line and waits
    half.sendall(b"<13>Nov 26 10:00:00 h app: a line still being written")
    with socket.create_connection(address) as cut:  # announces 100 bytes, sends 20, leaves
        cut.sendall(b"100 <13>Nov 26 10:00")
    with socket.create_connection(address) as garbage:
        garbage.sendall(b"\x00\xff\xfe\x80binary\x00junk\nmore \xc3\x28 junk\n" + b"x" * 5000 + b"\n")
    good = b"".join(b"<14>Nov 26 10:00:01 good app: message %d\n" % i for i in range(1000))
    _send_and_wait_for_close(address[1], good)
    half.close()
    started = time.monotonic()
    status, stderr = follower.stop()  # the idle client is still connected
    idle.close()
    assert status == 0, stderr
    assert time.monotonic() - started < 15
    good_rows = query_db(db, "SELECT count(*), count(DISTINCT message) FROM logs WHERE host = 'good'")
    assert good_rows == [(1000, 1000)]
    found = {row[4]: row for row in rows(db, "coalesce(host, '') <> 'good'")}
    assert found["a line still being written"][5]["app"] == "app"
    (incomplete,) = [row for row in found.values() if row[5].get("incomplete")]
    assert incomplete[4] == "Nov 26 10:00" and incomplete[5]["facility"] == "user"
    assert "more \ufffd( junk" in found and "binary" in "".join(found)
    (long,) = [row for row in found.values() if row[4].startswith("xxx")]
    assert len(long[4]) == 1024 and long[5]["truncated"] is True and long[5]["truncated_bytes"] == 5000 - 1024


@pytest.mark.slow
def test_port_in_use_is_one_error_line_and_a_failure(tmp_path: Path) -> None:
    for kind, scheme in ((socket.SOCK_STREAM, "tcp"), (socket.SOCK_DGRAM, "udp")):
        with socket.socket(socket.AF_INET, kind) as taken:
            taken.bind(("127.0.0.1", 0))
            if kind == socket.SOCK_STREAM:
                taken.listen()
            spec = f"{scheme}://127.0.0.1:{taken.getsockname()[1]}"
            result = run_cli("ingest", "--follow", spec, "--db", str(tmp_path / "x.duckdb"), timeout=60)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"logscope: error: {spec}: cannot listen: address already in use"
            " (another program is listening there)"
        ]
    plain = tmp_path / "plain-file"
    plain.write_text("not a socket")
    for spec, problem in (
        (f"unix://{plain}", "exists and is not a socket"),
        (f"unix://{tmp_path}/missing/dir.sock", "No such file or directory"),
    ):
        result = run_cli("ingest", "--follow", spec, "--db", str(tmp_path / "x.duckdb"), timeout=60)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
        assert problem in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_listeners_bind_only_the_address_given(tmp_path: Path) -> None:
    follower = Follower(tmp_path / "bind.duckdb", "tcp://:0", "udp://0.0.0.0:0")
    tcp, udp = follower.addresses
    assert tcp.startswith("tcp://127.0.0.1:")  # no host: loopback only
    assert udp.startswith("udp://0.0.0.0:")  # all interfaces only when asked
    status, stderr = follower.stop()
    assert status == 0, stderr


@pytest.mark.slow
def test_many_concurrent_clients(tmp_path: Path) -> None:
    db = tmp_path / "many.duckdb"
    follower = Follower(db, "tcp://127.0.0.1:0")
    clients = [socket.create_connection(("127.0.0.1", follower.port()), timeout=60) for _ in range(200)]
    for round_ in range(5):  # every client is open at once, their messages interleave
        for number, client in enumerate(clients):
            client.sendall(b"<14>Nov 26 10:00:00 c%d app: round %d\n" % (number, round_))
    for client in clients:
        client.shutdown(socket.SHUT_WR)
    for client in clients:
        while client.recv(4096):
            pass
        client.close()
    status, stderr = follower.stop()
    assert status == 0, stderr
    per_host = query_db(db, "SELECT host, count(*), count(DISTINCT fields->>'peer') FROM logs GROUP BY host")
    assert len(per_host) == 200 and all(count == 5 and peers == 1 for _, count, peers in per_host)


@pytest.mark.slow
def test_udp_drops_are_reported_by_ingest(tmp_path: Path) -> None:
    db = tmp_path / "drops.duckdb"
    follower = Follower(db, "udp://127.0.0.1:0?buffer=10")  # a tiny buffer: a flood must overflow it
    sent = 20_000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(sent):
            sender.sendto(b"<14>flood %d" % i, ("127.0.0.1", follower.port()))
    status, stderr = follower.stop()
    assert status == 0, stderr
    found = re.search(r"logscope: error: udp://127\.0\.0\.1:\d+: dropped ([\d,]+) messages", stderr)
    assert found, stderr
    dropped = int(found.group(1).replace(",", ""))
    (stored,) = query_db(db, "SELECT count(*) FROM logs")[0]
    assert dropped > 0 and stored + dropped == sent
    # The `stats` table (what `logscope status` and the TUI read) has the same count.
    assert query_db(db, "SELECT max(drops) FROM stats WHERE source LIKE 'udp://%'") == [(dropped,)]


@needs_logger
@pytest.mark.slow
def test_logger_output_piped_into_ingest_stdin_is_detected_as_syslog(tmp_path: Path) -> None:
    db = tmp_path / "logger-pipe.duckdb"
    quiet = "--no-act -s -n 127.0.0.1 -P 9 -d"  # format and print to stderr, send nothing
    command = (
        f"( {LOGGER} {quiet} --rfc5424 -p local2.err -t etl --sd-id job@1 --sd-param 'run=\"42\"'"
        " 'load failed'"
        f" && {LOGGER} {quiet} --rfc3164 -p local2.info -t etl 'retrying' ) 2>&1"
        f" | {sys.executable} -m logscope ingest - --db {db}"
    )
    result = subprocess.run(command, shell=True, capture_output=True, text=True, env=cli_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    first, second = rows(db)
    assert first[:5] == ("stdin", HOSTNAME, "syslog5424", "error", "load failed")
    assert first[5]["facility"] == "local2" and first[5]["job@1"] == {"run": "42"}
    assert second[:5] == ("stdin", HOSTNAME.split(".")[0], "syslog", "info", "retrying")
