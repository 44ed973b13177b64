"""Network ingest benchmark: sustained TCP messages/s into DuckDB, and UDP drop rates.

Runs the real CLI (`logscope ingest --follow`) in a subprocess and real clients in other processes,
all on loopback. Prints one table per part. Usage:

    .venv/bin/python bench/network.py [--clients 4] [--messages 100000] [--rates 5000,20000,50000,100000]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

UDP_SECONDS = 2.0


def line(client: int, index: int) -> bytes:
    return b"<134>Nov 26 10:00:00 web-%d api[%d]: GET /v1/items/%d 200 12ms user=alice request_id=%08x\n" % (
        client,
        1000 + client,
        index % 977,
        index,
    )


class Ingest:
    """`logscope ingest --follow SPEC` in a subprocess; the address it listens on."""

    extra_args: tuple[str, ...] = ()

    def __init__(self, spec: str, db: Path) -> None:
        env = {**os.environ, "TZ": "UTC"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "logscope", "ingest", "--follow", spec, "--db", str(db), *self.extra_args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        assert self.process.stderr is not None
        first = self.process.stderr.readline()
        if "listening on" not in first:
            raise SystemExit(f"ingest did not start: {first}{self.process.stderr.read()}")
        self.port = int(first.rsplit(":", 1)[1])
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        self.lines.extend(self.process.stderr)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(300)
        self._reader.join(10)
        return "".join(self.lines)


def count_rows(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM logs").fetchone()[0]
    finally:
        con.close()


def tcp_client(port: int, client: int, messages: int, ready: multiprocessing.Event) -> None:
    payload = b"".join(line(client, i) for i in range(messages))
    ready.wait()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):  # the listener closes once it has taken everything
            pass


def bench_tcp(clients: int, messages: int, work: Path) -> None:
    db = work / "tcp.duckdb"
    ingest = Ingest("tcp://127.0.0.1:0", db)
    ready = multiprocessing.Event()
    procs = [
        multiprocessing.Process(target=tcp_client, args=(ingest.port, c, messages, ready))
        for c in range(clients)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # let the clients build their payloads
    started = time.perf_counter()
    ready.set()
    for proc in procs:
        proc.join()
    received = time.perf_counter() - started
    ingest.stop()
    stored_at = time.perf_counter() - started
    total = clients * messages
    stored = count_rows(db)
    size = len(line(0, 0))
    print("\n## TCP: sustained messages/s into DuckDB")
    print(f"{clients} clients x {messages:,} messages of ~{size} bytes (RFC 3164, newline-framed)")
    print("| clients | messages | stored | read in (s) | committed in (s) | messages/s | MB/s |")
    print("|---|---|---|---|---|---|---|")
    rate = total / stored_at
    print(
        f"| {clients} | {total:,} | {stored:,} | {received:.2f} | {stored_at:.2f} | {rate:,.0f}"
        f" | {rate * size / 1e6:.1f} |"
    )


def udp_sender(port: int, rate: int, seconds: float, result: multiprocessing.Queue) -> None:
    """Send `rate` datagrams a second for `seconds`, paced in 1 ms steps; report how many were sent."""
    total = int(rate * seconds)
    datagrams = [line(0, i).rstrip(b"\n") for i in range(min(total, 50_000))]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        target = ("127.0.0.1", port)
        started = time.perf_counter()
        sent = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                with contextlib.suppress(OSError):
                    sock.sendto(datagrams[sent % len(datagrams)], target)
                sent += 1
            if sent < total:
                time.sleep(0.0005)
        result.put((sent, time.perf_counter() - started))


def bench_udp(rates: list[int], work: Path) -> None:
    print("\n## UDP: drops at offered rates")
    print(f"one sender, {UDP_SECONDS:g} s per rate; `counted` is what logscope reports as dropped")
    print("| offered/s | achieved/s | sent | stored | counted drops | uncounted loss | drop rate |")
    print("|---|---|---|---|---|---|---|")
    for rate in rates:
        db = work / f"udp-{rate}.duckdb"
        ingest = Ingest("udp://127.0.0.1:0", db)
        result: multiprocessing.Queue = multiprocessing.Queue()
        sender = multiprocessing.Process(target=udp_sender, args=(ingest.port, rate, UDP_SECONDS, result))
        sender.start()
        sent, took = result.get(timeout=120)
        sender.join()
        time.sleep(0.5)
        stderr = ingest.stop()
        stored = count_rows(db)
        found = re.search(r"dropped ([\d,]+) messages", stderr)
        counted = int(found.group(1).replace(",", "")) if found else 0
        uncounted = sent - stored - counted
        print(
            f"| {rate:,} | {sent / took:,.0f} | {sent:,} | {stored:,} | {counted:,} | {uncounted:,}"
            f" | {(sent - stored) / sent:.1%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--messages", type=int, default=100_000, help="per TCP client")
    parser.add_argument("--rates", default="5000,20000,50000,100000", help="UDP datagrams/s to offer")
    parser.add_argument("--skip-udp", action="store_true")
    parser.add_argument("--skip-tcp", action="store_true")
    parser.add_argument(
        "--no-default-rules", action="store_true", help="run ingest without the bundled alert rule packs"
    )
    args = parser.parse_args()
    if args.no_default_rules:
        Ingest.extra_args = ("--no-default-rules",)
    rules = "without" if args.no_default_rules else "with"
    print(
        f"logscope network benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, loopback,"
        f" ingest {rules} the default rule packs"
    )
    with tempfile.TemporaryDirectory(prefix="logscope-bench-") as work:
        if not args.skip_tcp:
            bench_tcp(args.clients, args.messages, Path(work))
        if not args.skip_udp:
            bench_udp([int(rate) for rate in args.rates.split(",")], Path(work))


if __name__ == "__main__":
    main()
