"""Issue 22, case 5 (listeners): idle connections cannot lock senders out. Over 1,024 idle TCP
connections used to make the listener refuse new senders; now the connection idle longest makes
room, idle connections are closed after `idle_timeout`, and one client is held to
`max_connections_per_client`. The real CLI, real sockets on 127.0.0.1, rows in the DuckDB file."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import query_db, run_cli
from server_helpers import count, wait_until
from test_network_listeners import Follower


def closed_by_peer(sock: socket.socket, wait: float) -> bool:
    """Whether the other end closed `sock` within `wait` seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def send_lines(port: int, lines: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sender:
        sender.sendall(b"".join(lines))
        sender.shutdown(socket.SHUT_WR)
        while sender.recv(4096):
            pass


@pytest.mark.slow
def test_1100_idle_connections_do_not_lock_a_new_sender_out(tmp_path: Path) -> None:
    db = tmp_path / "idle.duckdb"
    follower = Follower(db, "tcp://127.0.0.1:0")
    port = follower.port()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(1100)]
    try:
        time.sleep(1.5)  # they have been quiet for a while now
        started = time.monotonic()
        send_lines(port, [b"new sender %d\n" % number for number in range(500)])
        assert time.monotonic() - started < 10
    finally:
        for sock in idle:
            sock.close()
    status, stderr = follower.stop()
    assert status == 0, stderr
    assert query_db(db, "SELECT count(*), count(DISTINCT message) FROM logs") == [(500, 500)]
    assert "idle connection" in stderr and "to make room for new ones" in stderr


@pytest.mark.slow
def test_idle_timeout_closes_quiet_connections_only(tmp_path: Path) -> None:
    db = tmp_path / "timeout.duckdb"
    follower = Follower(
        db, "tcp://127.0.0.1:0?idle_timeout=1", "unix://" + str(tmp_path / "s.sock") + "?idle_timeout=1"
    )
    port = follower.port()
    quiet = socket.create_connection(("127.0.0.1", port))
    quiet_unix = socket.socket(socket.AF_UNIX)
    quiet_unix.connect(str(tmp_path / "s.sock"))
    talking = socket.create_connection(("127.0.0.1", port))
    started = time.monotonic()
    for number in range(10):  # one line every 0.3 s: never quiet for a second
        talking.sendall(b"still here %d\n" % number)
        time.sleep(0.3)
    assert closed_by_peer(quiet, 0.5) and closed_by_peer(quiet_unix, 0.5)
    assert time.monotonic() - started < 8
    assert not closed_by_peer(talking, 0.1)
    talking.close()
    status, stderr = follower.stop()
    assert status == 0, stderr
    assert query_db(db, "SELECT count(*) FROM logs") == [(10,)]


@pytest.mark.slow
def test_one_client_is_held_to_its_share(tmp_path: Path) -> None:
    db = tmp_path / "share.duckdb"
    follower = Follower(db, "tcp://127.0.0.1:0?max_connections_per_client=4")
    port = follower.port()
    busy = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    talking = threading.Event()
    sent = [0]

    def keep_talking() -> None:  # every 0.2 s on each: none of the four is ever idle for 1 s
        while talking.is_set():
            for sock in busy:
                sock.sendall(b"busy\n")
                sent[0] += 1
            time.sleep(0.2)

    talking.set()
    talker = threading.Thread(target=keep_talking)
    talker.start()
    time.sleep(0.3)
    fifth = socket.create_connection(("127.0.0.1", port))  # the four are busy: refused
    assert closed_by_peer(fifth, 5)
    talking.clear()
    talker.join()
    # Quiet counts from when the listener last handed a connection's lines on: once they are all
    # stored that has happened (a loaded machine can lag behind the sender). 1.5 s later the four
    # are quiet: a new connection takes the place of the quietest.
    wait_until(lambda: count(db, "message = 'busy'") == sent[0], timeout=60)
    time.sleep(1.5)
    send_lines(port, [b"newcomer\n"])
    for sock in busy:
        sock.close()
    status, stderr = follower.stop()
    assert status == 0, stderr
    assert "refused 1 connection beyond 1024 in all, 4 per client, none of them idle" in stderr
    assert "closed 1 idle connection to make room" in stderr
    assert query_db(db, "SELECT message, count(*) FROM logs GROUP BY 1 ORDER BY 1") == [
        ("busy", sent[0]),
        ("newcomer", 1),
    ]


@pytest.mark.slow
def test_bad_limit_values_are_one_line_errors(tmp_path: Path) -> None:
    for option in ("idle_timeout=soon", "max_connections=0", "max_connections_per_client=-1"):
        spec = f"tcp://127.0.0.1:0?{option}"
        result = run_cli("ingest", "--follow", spec, "--db", str(tmp_path / "x.duckdb"))
        assert result.returncode == 2, result
        assert len(result.stderr.strip().splitlines()) == 1 and option.split("=")[0] in result.stderr
    result = run_cli(
        "ingest", "--follow", "udp://127.0.0.1:0?idle_timeout=5", "--db", str(tmp_path / "x.duckdb")
    )
    assert result.returncode == 2 and "unknown option 'idle_timeout'" in result.stderr


@pytest.mark.parametrize("key", ["max_message", "max_message_bytes"])
@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_a_bad_size_names_the_option_key_as_typed(tmp_path: Path, key: str, scheme: str) -> None:
    spec = f"{scheme}://127.0.0.1:0?{key}=lots"
    result = run_cli("ingest", "--follow", spec, "--db", str(tmp_path / "x.duckdb"))
    assert result.returncode == 2, result
    assert result.stderr.splitlines() == [
        f"logscope: error: {spec}: {key}: expected a size in bytes like 65536 or 64k"
    ]
