"""A simulated microservice fleet: a gateway access log, JSON service logs, syslog over UDP.

Time is simulated: the fleet starts `backfill` seconds in the past and runs `speed` times faster
than the wall clock until it has caught up (a minute by default), then in real time. Incidents
are scheduled on the simulated timeline so the bundled rules see them within a minute of wall
time:

- a 5xx burst on the gateway (web_5xx_burst),
- an error storm in checkout (app_error_spike),
- billing stops sending heartbeats for a while (app_missing_heartbeat).
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

GATEWAY_LOG = "gateway/access.log"
SERVICES = ("checkout", "billing", "inventory")
SYSLOG_HOSTS = ("web-1", "web-2", "db-1")

# The timeline starts this many seconds ago and runs this many times faster until it is now:
# 15 simulated minutes in the first wall-clock minute.
BACKFILL = 900.0
SPEED = 15.0

# Incidents, in simulated seconds from the start (they repeat every CYCLE seconds).
CYCLE = 900.0
BURST_5XX = (90.0, 130.0)
ERROR_STORM = (640.0, 680.0)  # after the spike rule's two windows of history
HEARTBEAT_GAP = (120.0, 520.0)  # billing is silent about heartbeats in here (> the rule's 5m)
HEARTBEAT_EVERY = 10.0

PATHS = (
    "/",
    "/api/items",
    "/api/items/42",
    "/api/cart",
    "/api/checkout",
    "/api/search?q=shoes",
    "/static/app.js",
)
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "curl/8.5.0",
    "kube-probe/1.30",
)


@dataclass
class SimClock:
    """Simulated time: `backfill` seconds ago, `speed`× faster than the wall clock until now."""

    backfill: float = BACKFILL
    speed: float = SPEED
    started_wall: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)

    @property
    def origin(self) -> float:
        return self.started_wall - self.backfill

    def now(self) -> float:
        """Simulated epoch seconds."""
        elapsed = time.monotonic() - self.started_mono
        simulated = self.origin + elapsed * self.speed
        return min(simulated, time.time())

    def offset(self, moment: float) -> float:
        """Seconds since the simulation started, on the simulated timeline."""
        return moment - self.origin


def _in(window: tuple[float, float], offset: float) -> bool:
    phase = offset % CYCLE
    return window[0] <= phase < window[1]


class Fleet:
    """Writes what the fleet logs between two simulated moments."""

    def __init__(self, directory: Path, syslog_port: int | None, clock: SimClock, seed: int = 7) -> None:
        self.directory = directory
        self.clock = clock
        self.random = random.Random(seed)
        self.syslog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if syslog_port else None
        self.syslog_address = ("127.0.0.1", syslog_port) if syslog_port else None
        self.files = {}
        for name in (GATEWAY_LOG, *(f"services/{service}.jsonl" for service in SERVICES)):
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            self.files[name] = path.open("a", encoding="utf-8")
        self._carry: dict[str, float] = {}
        self._next_heartbeat = {service: 0.0 for service in SERVICES}
        self._order = 1000

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()
        if self.syslog is not None:
            self.syslog.close()

    # --- one step of simulated time --------------------------------------------------------

    def step(self, start: float, end: float) -> int:
        """Write every line with a time in [start, end); returns how many."""
        lines: list[tuple[float, str, str]] = []
        lines += self._gateway(start, end)
        for service in SERVICES:
            lines += self._service(service, start, end)
        lines += self._syslog(start, end)
        lines.sort(key=lambda item: item[0])
        for _, target, line in lines:
            if target == "udp":
                if self.syslog is not None:
                    self.syslog.sendto(line.encode(), self.syslog_address)
            else:
                self.files[target].write(line + "\n")
        for handle in self.files.values():
            handle.flush()
        return len(lines)

    def _times(self, key: str, rate: float, start: float, end: float) -> list[float]:
        """Event times for `rate` per simulated second over [start, end), evenly spread with jitter."""
        expected = rate * (end - start) + self._carry.get(key, 0.0)
        count = int(expected)
        self._carry[key] = expected - count
        return sorted(start + self.random.random() * (end - start) for _ in range(count))

    def _gateway(self, start: float, end: float) -> list[tuple[float, str, str]]:
        out = []
        for moment in self._times("gateway", 12.0, start, end):
            offset = self.clock.offset(moment)
            path = self.random.choice(PATHS)
            status = self.random.choices((200, 304, 404, 500), (90, 5, 4, 1))[0]
            if _in(BURST_5XX, offset) and path.startswith("/api") and self.random.random() < 0.85:
                status = self.random.choice((502, 503, 504))
            method = "POST" if path in ("/api/checkout", "/api/cart") else "GET"
            size = 0 if status == 304 else self.random.randint(200, 30000)
            stamp = datetime.fromtimestamp(moment, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
            client = f"10.0.{self.random.randint(0, 3)}.{self.random.randint(2, 250)}"
            agent = self.random.choice(AGENTS)
            line = f'{client} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"'
            out.append((moment, GATEWAY_LOG, line))
        return out

    def _service(self, service: str, start: float, end: float) -> list[tuple[float, str, str]]:
        target = f"services/{service}.jsonl"
        out = []
        for moment in self._times(service, 4.0, start, end):
            out.append((moment, target, self._service_line(service, moment)))
        for moment in self._heartbeats(service, start, end):
            out.append((moment, target, _json(moment, "info", service, "heartbeat", {})))
        if service == "checkout":
            for moment in self._times("storm", 3.0, start, end):
                if _in(ERROR_STORM, self.clock.offset(moment)):
                    fields = {
                        "exception": "TimeoutError",
                        "provider": "payfast",
                        "order_id": self._next_order(),
                    }
                    out.append(
                        (moment, target, _json(moment, "error", service, "payment provider timeout", fields))
                    )
        return out

    def _heartbeats(self, service: str, start: float, end: float) -> list[float]:
        moments = []
        due = self._next_heartbeat[service] or start
        while due < end:
            if due >= start and not (service == "billing" and _in(HEARTBEAT_GAP, self.clock.offset(due))):
                moments.append(due)
            due += HEARTBEAT_EVERY
        self._next_heartbeat[service] = due
        return moments

    def _service_line(self, service: str, moment: float) -> str:
        pick = self.random.random()
        if service == "checkout":
            if pick < 0.6:
                fields = {
                    "order_id": self._next_order(),
                    "amount": round(self.random.uniform(5, 400), 2),
                    "duration_ms": self.random.randint(40, 900),
                }
                return _json(moment, "info", service, "order placed", fields)
            if pick < 0.995:
                return _json(moment, "debug", service, "cart updated", {"items": self.random.randint(1, 9)})
            return _json(moment, "warning", service, "slow payment provider", {"duration_ms": 2400})
        if service == "billing":
            if pick < 0.7:
                fields = {
                    "invoice": f"INV-{self.random.randint(10000, 99999)}",
                    "amount": round(self.random.uniform(5, 400), 2),
                }
                return _json(moment, "info", service, "invoice issued", fields)
            return _json(moment, "debug", service, "ledger synced", {"rows": self.random.randint(1, 50)})
        if pick < 0.9:
            fields = {"sku": f"SKU-{self.random.randint(100, 999)}", "stock": self.random.randint(0, 500)}
            return _json(moment, "info", service, "stock checked", fields)
        return _json(
            moment,
            "warning",
            service,
            "stock low",
            {"sku": f"SKU-{self.random.randint(100, 999)}", "stock": 2},
        )

    def _syslog(self, start: float, end: float) -> list[tuple[float, str, str]]:
        out = []
        for moment in self._times("syslog", 1.5, start, end):
            host = self.random.choice(SYSLOG_HOSTS)
            app, severity, text = self.random.choice(
                (
                    (
                        "sshd",
                        6,
                        f"Accepted publickey for deploy from 10.0.9.{self.random.randint(2, 250)}"
                        f" port {self.random.randint(30000, 60000)} ssh2",
                    ),
                    ("CRON", 6, "(root) CMD (run-parts /etc/cron.hourly)"),
                    ("systemd", 6, "Started session-42.scope - Session 42 of User deploy."),
                    (
                        "kernel",
                        4,
                        "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.",
                    ),
                )
            )
            stamp = (
                datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            )
            priority = 8 * 3 + severity  # facility daemon
            out.append(
                (
                    moment,
                    "udp",
                    f"<{priority}>1 {stamp} {host} {app} {self.random.randint(100, 9999)} - - {text}",
                )
            )
        return out

    def _next_order(self) -> int:
        self._order += 1
        return self._order

    # --- running --------------------------------------------------------------------------

    def run(self, should_stop, tick: float = 0.2) -> None:
        """Write in steps of `tick` wall seconds until `should_stop()`."""
        done = self.clock.origin
        while not should_stop():
            now = self.clock.now()
            if now > done:
                self.step(done, now)
                done = now
            time.sleep(tick)


def _json(moment: float, level: str, service: str, message: str, fields: dict) -> str:
    stamp = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"ts": stamp, "level": level, "service": service, "msg": message, **fields})


def simulate(directory: Path, seconds: float, start: float, syslog_port: int | None = None) -> int:
    """Write `seconds` of simulated fleet logs from epoch `start` as fast as possible (for tests)."""
    clock = SimClock(backfill=0.0, speed=1.0, started_wall=start)
    fleet = Fleet(directory, syslog_port, clock)
    try:
        written = 0
        moment = start
        while moment < start + seconds:
            written += fleet.step(moment, min(moment + 1.0, start + seconds))
            moment += 1.0
        return written
    finally:
        fleet.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m logscope.demo DIR --udp PORT`: run the fleet until killed (the demo starts it)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m logscope.demo")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--udp", type=int, help="syslog UDP port on 127.0.0.1")
    parser.add_argument("--speed", type=float, default=SPEED)
    parser.add_argument("--backfill", type=float, default=BACKFILL)
    args = parser.parse_args(argv)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    fleet = Fleet(args.directory, args.udp, SimClock(args.backfill, args.speed))
    try:
        fleet.run(lambda: bool(stopping) or os.getppid() == 1)
    finally:
        fleet.close()
