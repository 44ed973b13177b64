"""Soak benchmark: an hour of a busy service compressed into a few minutes, with a `kill -9`.

One real `logscope ingest --follow` (default rules on) reads a directory written by 4 writers that
rotate their files, a TCP and a UDP listener fed by a sender each, while 8 query clients use the
query socket: 4 hold silent connections (reconnecting whenever the service closes them), 4 run
heavy queries in a loop. Half-way through, the ingest process gets `kill -9` and is started again.
Every line carries a unique token; at the end the database is read directly:

- file and TCP lines: rows = lines written, each token exactly once;
- UDP: tokens at most once, and lines sent - rows stored = the drops the listener counted (the
  UDP sender adds a burst of 20,000 datagrams every 45 s to a listener with a 2,000-datagram
  buffer, so there are drops to count).

The network senders pause for the kill (nothing acknowledges a TCP or UDP line, so what the kernel
had accepted and the killed process had not committed is gone, as with any receiver without
application acks); the file writers write through it. Every second: rows, RSS and CPU of the
ingest process, how far the store is behind (now - the write time of the newest stored line),
query latencies. Usage (about 4 minutes):

    .venv/bin/python bench/soak.py [--seconds 200] [--rate 250] [--port 47520]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from logscope.errors import LogscopeError
from logscope.store.client import QueryClient, service_state

HEAVY_QUERIES = [
    "SELECT source, level, count(*) FROM logs GROUP BY ALL ORDER BY 3 DESC",
    "SELECT * FROM logs ORDER BY ts DESC LIMIT 2000",
    "SELECT count(*) FROM logs WHERE regexp_matches(message, 'w[0-3]-[0-9]*7 ')",
    "SELECT date_trunc('second', ts) AS s, count(*) FROM logs GROUP BY 1 ORDER BY 1 DESC LIMIT 60",
]
CLI = (sys.executable, "-m", "logscope")
UDP_BUFFER = 2000
UDP_BURST = 20_000  # datagrams sent back to back every UDP_BURST_EVERY seconds
UDP_BURST_EVERY = 45.0
# Rows, and the newest write time (µs) of the lines whose times the writers set to the µs.
FRESHNESS_SQL = "SELECT count(*), max(epoch_us(ts)) FILTER (WHERE format IN ('json', 'logfmt')) FROM logs"
TOKEN_SQL = "regexp_extract(raw, '((?:w[0-9]|tcp|udp)-[0-9]+)', 1)"


@dataclass
class Counts:
    """Lines each producer has written or sent (what must be stored)."""

    written: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, count: int = 1) -> None:
        with self.lock:
            self.written[name] = self.written.get(name, 0) + count


class Ingest:
    """The `logscope ingest --follow` process under test."""

    def __init__(self, db: Path, logs: Path, port: int, stderr: Path) -> None:
        self.db, self.logs, self.port, self.stderr_path = db, logs, port, stderr
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        # A small datagram buffer: the UDP sender's bursts overflow it, so drops happen and are counted.
        udp = f"udp://127.0.0.1:{self.port + 1}?buffer={UDP_BUFFER}"
        specs = [str(self.logs), f"tcp://127.0.0.1:{self.port}", udp]
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                [*CLI, "ingest", "--follow", *specs, "--db", str(self.db), "-q", "--stats-interval", "1"],
                stderr=stderr,
                stdout=subprocess.DEVNULL,
            )
        self.starts += 1
        deadline = time.monotonic() + 60
        while service_state(str(self.db) + ".sock") != "live" or not self._tcp_up():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"ingest did not start; see {self.stderr_path}")
            time.sleep(0.1)

    def _tcp_up(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(120)

    def status(self) -> dict:
        with QueryClient(str(self.db) + ".sock") as client:
            return client.call("status")

    def query(self, sql: str) -> list[tuple]:
        with QueryClient(str(self.db) + ".sock") as client:
            return list(client.query(sql).rows())


def writer_line(writer: int, number: int) -> str:
    """Line `number` of writer `writer`, in one of four formats (JSON x2, logfmt, nginx)."""
    token = f"w{writer}-{number}"
    if writer % 4 == 0:
        level = "error" if number % 97 == 0 else "info"
        record = {"ts": _now_iso(), "level": level, "msg": f"{token} payment handled", "amount": number % 500}
        return json.dumps(record) + "\n"
    if writer % 4 == 1:
        record = {
            "time": _now_iso(),
            "severity": "INFO",
            "message": f"{token} cache refresh",
            "ms": number % 40,
        }
        return json.dumps(record) + "\n"
    if writer % 4 == 2:
        level = "warn" if number % 50 == 0 else "info"
        return f'ts={_now_iso()} level={level} msg="{token} job step" step={number % 9}\n'
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    status = 500 if number % 61 == 0 else 200
    return f'127.0.0.1 - - [{when}] "GET /items/{token} HTTP/1.1" {status} 512 "-" "curl/8.5"\n'


class Writer(threading.Thread):
    """Appends lines to `app<N>.log` at a rate, renaming it away every `rotate_every` lines."""

    def __init__(self, number: int, logs: Path, rate: float, rotate_every: int, counts: Counts) -> None:
        super().__init__(name=f"writer-{number}", daemon=True)
        self.number, self.logs, self.rate = number, logs, rate
        self.rotate_every, self.counts = rotate_every, counts
        self.stop = threading.Event()
        self.rotations = 0

    def run(self) -> None:
        path = self.logs / f"app{self.number}.log"
        handle = open(path, "a")  # noqa: SIM115
        line = 0
        started = time.monotonic()
        while not self.stop.is_set():
            due = int((time.monotonic() - started) * self.rate)
            while line < due:
                handle.write(writer_line(self.number, line))
                line += 1
                if line % self.rotate_every == 0:
                    handle.close()
                    self.rotations += 1
                    path.rename(self.logs / f"app{self.number}.log.{self.rotations}")
                    handle = open(path, "a")  # noqa: SIM115
            handle.flush()
            self.counts.written[f"w{self.number}"] = line
            time.sleep(0.01)
        handle.close()


class Sender(threading.Thread):
    """Sends syslog lines over TCP or UDP at a rate; `paused` holds it (for the kill)."""

    def __init__(self, kind: str, port: int, rate: float, counts: Counts) -> None:
        super().__init__(name=f"sender-{kind}", daemon=True)
        self.kind, self.port, self.rate, self.counts = kind, port, rate, counts
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.idle = threading.Event()  # set while paused with nothing in flight
        self.sent = 0

    def _connect(self) -> socket.socket:
        if self.kind == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(("127.0.0.1", self.port))
            return sock
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def run(self) -> None:
        sock = self._connect()
        credit = 0.0
        last = last_burst = time.monotonic()
        while not self.stop.is_set():
            if self.paused.is_set():
                if self.kind == "tcp":
                    sock.close()
                self.idle.set()
                while self.paused.is_set() and not self.stop.is_set():
                    time.sleep(0.05)
                self.idle.clear()
                sock = self._connect() if self.kind == "tcp" else sock
                last = time.monotonic()
            now = time.monotonic()
            credit += (now - last) * self.rate
            last = now
            if self.kind == "udp" and now - last_burst >= UDP_BURST_EVERY:
                credit += UDP_BURST
                last_burst = now
            while credit >= 1:
                message = b"<14>%s soak-%s app[7]: %s-%d request served\n" % (
                    time.strftime("%b %d %H:%M:%S").encode(),
                    self.kind.encode(),
                    self.kind.encode(),
                    self.sent,
                )
                sock.send(message)
                self.sent += 1
                credit -= 1
            self.counts.written[self.kind] = self.sent
            time.sleep(0.01)
        sock.close()
        self.idle.set()


class QueryClients:
    """4 idle connections (reconnecting when closed) and 4 heavy query loops."""

    def __init__(self, socket_path: str) -> None:
        self.path = socket_path
        self.stop = threading.Event()
        self.latencies: list[tuple[float, float]] = []  # (time, seconds)
        self.errors: dict[str, int] = {}
        self.idle_reconnects = 0
        self.threads = [threading.Thread(target=self._idle, daemon=True) for _ in range(4)]
        self.threads += [threading.Thread(target=self._heavy, args=(n,), daemon=True) for n in range(4)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _idle(self) -> None:
        while not self.stop.is_set():
            try:
                sock = socket.socket(socket.AF_UNIX)
                sock.connect(self.path)
                sock.settimeout(1)
                while not self.stop.is_set():
                    try:
                        if sock.recv(1) == b"":
                            break  # closed by the service: connect again and keep quiet
                    except TimeoutError:
                        continue
                sock.close()
                self.idle_reconnects += 1
            except OSError:
                time.sleep(0.5)

    def _heavy(self, number: int) -> None:
        turn = number
        while not self.stop.is_set():
            sql = HEAVY_QUERIES[turn % len(HEAVY_QUERIES)]
            turn += 1
            started = time.monotonic()
            try:
                with QueryClient(self.path) as client:
                    for _ in client.query(sql).rows():
                        pass
                self.latencies.append((time.monotonic(), time.monotonic() - started))
            except (LogscopeError, OSError) as exc:
                kind = "busy" if "busy" in str(exc) else "unavailable"
                self.errors[kind] = self.errors.get(kind, 0) + 1
                time.sleep(0.5)


class Sampler(threading.Thread):
    """Every second: rows, RSS, CPU and lag of the ingest process."""

    def __init__(self, ingest: Ingest, queries: QueryClients) -> None:
        super().__init__(name="sampler", daemon=True)
        self.ingest, self.queries = ingest, queries
        self.stop = threading.Event()
        self.samples: list[dict] = []
        self.started = time.monotonic()

    def run(self) -> None:
        previous: tuple[float, float, int] | None = None
        while not self.stop.wait(1.0):
            pid = self.ingest.pid
            try:
                cpu_s = _cpu_seconds(pid)
                rss = _rss_bytes(pid)
                status = self.ingest.status()
                rows, newest = self.ingest.query(FRESHNESS_SQL)[0]
            except (OSError, LogscopeError, ValueError):
                previous = None
                continue
            now = time.monotonic()
            cpu = (cpu_s - previous[1]) / (now - previous[0]) if previous and previous[2] == pid else None
            previous = (now, cpu_s, pid)
            sources = status.get("sources") or []
            recent = [s for t, s in list(self.queries.latencies) if t > now - 1.0]
            self.samples.append(
                {
                    "t": round(now - self.started, 1),
                    "pid": pid,
                    "rows": rows,
                    "rss_mb": round(rss / 2**20, 1),
                    "cpu": round(cpu, 3) if cpu is not None else None,
                    # How far the store is behind: now - the write time of the newest stored line.
                    "lag_s": round(max(0.0, time.time() - newest / 1e6), 3) if newest else 0.0,
                    "source_lag_s": max((float(s.get("lag_s") or 0) for s in sources), default=0.0),
                    "queries": len(recent),
                    "query_max_s": round(max(recent), 3) if recent else None,
                }
            )


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _now_iso() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def udp_drops(ingest: Ingest) -> int:
    return sum(int(s.get("drops") or 0) for s in ingest.status().get("sources") or [])


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(LogscopeError, OSError):
            if predicate():
                return True
        time.sleep(0.5)
    return False


def stored_tokens(ingest: Ingest, prefix: str) -> int:
    return ingest.query(f"SELECT count(*) FROM logs WHERE starts_with({TOKEN_SQL}, '{prefix}-')")[0][0]


def run(seconds: float, rate: float, port: int, workdir: Path) -> dict:
    logs = workdir / "logs"
    logs.mkdir()
    db = workdir / "soak.duckdb"
    ingest = Ingest(db, logs, port, workdir / "ingest.stderr")
    ingest.start()
    counts = Counts()
    writers = [Writer(n, logs, rate, rotate_every=int(rate * 40), counts=counts) for n in range(4)]
    senders = [Sender("tcp", port, rate, counts), Sender("udp", port + 1, rate, counts)]
    queries = QueryClients(str(db) + ".sock")
    sampler = Sampler(ingest, queries)
    for thread in [*writers, *senders, sampler]:
        thread.start()
    queries.start()
    time.sleep(seconds * 0.55)

    # The kill: network senders pause and drain first (nothing acknowledges their lines).
    for sender in senders:
        sender.paused.set()
    for sender in senders:
        sender.idle.wait(10)
    tcp_sent = senders[0].sent
    wait_for(lambda: stored_tokens(ingest, "tcp") == tcp_sent, 60)
    udp_before = senders[1].sent
    wait_for(lambda: stored_tokens(ingest, "udp") + udp_drops(ingest) == udp_before, 30)
    drops_before = udp_drops(ingest)
    killed_at = round(time.monotonic() - sampler.started, 1)
    ingest.kill9()
    time.sleep(2.0)  # down for a while: the writers go on writing (and rotating)
    ingest.start()
    restarted_in = round(time.monotonic() - sampler.started - killed_at, 1)
    for sender in senders:
        sender.paused.clear()
    time.sleep(seconds * 0.45)

    for thread in [*writers, *senders]:
        thread.stop.set()
    for thread in [*writers, *senders]:
        thread.join(10)
    file_lines = sum(counts.written.get(f"w{n}", 0) for n in range(4))
    caught_up = wait_for(
        lambda: (
            sum(stored_tokens(ingest, f"w{n}") for n in range(4)) == file_lines
            and stored_tokens(ingest, "tcp") == senders[0].sent
        ),
        120,
    )
    wait_for(lambda: stored_tokens(ingest, "udp") + drops_before + udp_drops(ingest) >= senders[1].sent, 10)
    drops_after = udp_drops(ingest)
    queries.stop.set()
    sampler.stop.set()
    status = ingest.stop()
    con = duckdb.connect(str(db), read_only=True)
    per_kind = con.execute(
        f"SELECT regexp_extract(tok, '^([a-z]+[0-9]?)-', 1) AS kind, count(*), count(DISTINCT tok)"
        f" FROM (SELECT {TOKEN_SQL} AS tok FROM logs) WHERE tok <> '' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    untokened = con.execute(f"SELECT count(*) FROM logs WHERE {TOKEN_SQL} = ''").fetchall()[0][0]
    alerts = con.execute("SELECT count(*) FROM alerts").fetchall()[0][0]
    size = os.path.getsize(db)
    con.close()
    stored = {kind: (rows, distinct) for kind, rows, distinct in per_kind}
    latencies = [s for _, s in queries.latencies]
    return {
        "seconds": seconds,
        "rate_per_producer": rate,
        "written": dict(counts.written),
        "stored": stored,
        "untokened_rows": untokened,
        "udp_drops": drops_before + drops_after,
        "caught_up": caught_up,
        "exit_status": status,
        "killed_at_s": killed_at,
        "restarted_in_s": restarted_in,
        "rotations": sum(w.rotations for w in writers),
        "alerts": alerts,
        "db_bytes": size,
        "queries": len(latencies),
        "query_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "query_p95_s": round(statistics.quantiles(latencies, n=20)[-1], 3) if len(latencies) > 20 else None,
        "query_errors": queries.errors,
        "idle_reconnects": queries.idle_reconnects,
        "samples": sampler.samples,
    }


def verdict(result: dict) -> list[str]:
    """What failed (empty: lines in = rows out, exactly once; UDP drops = lines lost)."""
    problems = []
    stored, written = result["stored"], result["written"]
    for kind in ["w0", "w1", "w2", "w3", "tcp"]:
        rows, distinct = stored.get(kind, (0, 0))
        if not rows == distinct == written.get(kind, 0):
            problems.append(f"{kind}: wrote {written.get(kind, 0)}, stored {rows} ({distinct} distinct)")
    rows, distinct = stored.get("udp", (0, 0))
    lost = written.get("udp", 0) - distinct
    if rows != distinct or lost != result["udp_drops"]:
        sent, drops = written.get("udp"), result["udp_drops"]
        problems.append(f"udp: sent {sent}, stored {rows} ({distinct} distinct), drops {drops}")
    if result["untokened_rows"]:
        problems.append(f"{result['untokened_rows']} rows without a token")
    return problems


def table(result: dict, every: float = 15.0) -> str:
    lines = [
        "| t (s) | rows | RSS (MB) | CPU (cores) | store lag (s) | queries/s | slowest query (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    next_t = 0.0
    for sample in result["samples"]:
        if sample["t"] >= next_t:
            cpu = f"{sample['cpu']:.2f}" if sample["cpu"] is not None else "-"
            slowest = sample["query_max_s"] if sample["query_max_s"] is not None else "-"
            lines.append(
                f"| {sample['t']:.0f} | {sample['rows']:,} | {sample['rss_mb']} | {cpu}"
                f" | {sample['lag_s']:.2f} | {sample['queries']} | {slowest} |"
            )
            next_t = sample["t"] + every
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=200)
    parser.add_argument("--rate", type=float, default=250, help="lines/s of each writer and sender")
    parser.add_argument("--port", type=int, default=47520, help="TCP port; UDP is the next one")
    parser.add_argument("--json", metavar="FILE", help="also write the full result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logscope-soak-") as workdir:
        result = run(args.seconds, args.rate, args.port, Path(workdir))
        errors = (Path(workdir) / "ingest.stderr").read_text()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    print(table(result))
    rss = [s["rss_mb"] for s in result["samples"]]
    cpu = [s["cpu"] for s in result["samples"] if s["cpu"] is not None]
    lag = [s["lag_s"] for s in result["samples"]]
    print(
        f"RSS {min(rss)}-{max(rss)} MB, CPU mean {statistics.mean(cpu):.2f} max {max(cpu):.2f} cores,"
        f" store lag max {max(lag):.2f} s"
    )
    if errors.strip():
        print("ingest stderr:\n" + errors)
    problems = verdict(result)
    print("PASS: lines in = rows out, exactly once; UDP drops = lines lost" if not problems else "FAIL:")
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
