"""Deterministic benchmark data: nginx combined, JSON lines, logfmt and syslog files.

The same seed and line count always give the same bytes, so runs on different days compare.
`python bench/data.py --lines 100000 --out /tmp/bench-data` writes the four files.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20261126
START = datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC)
# Mean gap between two lines: 1 M lines cover about a day, as a busy service would.
STEP_MS = 86

_METHODS = ["GET"] * 14 + ["POST"] * 4 + ["PUT", "DELETE", "HEAD"]
_PATHS = [
    "/",
    "/index.html",
    "/api/v1/items",
    "/api/v1/items/{n}",
    "/api/v1/users/{n}/orders?page={p}",
    "/static/js/app.{n}.js",
    "/static/css/site.css",
    "/login",
    "/logout",
    "/search?q=term{n}&page={p}",
    "/healthz",
    "/images/photo_{n}.jpg",
]
_STATUSES = (
    [200] * 70
    + [201, 204, 206]
    + [301, 302, 304] * 3
    + [400, 401, 403, 404, 404, 404, 429]
    + [
        500,
        502,
        503,
        504,
    ]
)
_REFERERS = ["-", "-", "-", "https://www.example.com/", "https://search.example.org/?q=logs", "-"]
_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "python-requests/2.32.3",
]
_LEVELS = ["info"] * 12 + ["debug"] * 4 + ["warn"] * 2 + ["error"]
_SERVICES = ["api", "auth", "billing", "search", "worker"]
_MESSAGES = [
    "request handled",
    "cache miss for key user:{n}",
    "retrying upstream call attempt={p}",
    "connection reset by peer",
    "job {n} finished",
    "slow query took {n} ms",
    "user {n} logged in",
    "payment {n} declined: insufficient funds",
]
_HOSTS = ["web-1", "web-2", "db-1", "cache-1"]
_PROGRAMS = ["sshd", "CRON", "systemd", "kernel", "nginx", "postfix/smtpd", "dhclient"]
_SYSLOG_MESSAGES = [
    "Accepted publickey for deploy from 10.0.{p}.{n8} port {n} ssh2",
    "Failed password for invalid user admin from 203.0.113.{n8} port {n} ssh2",
    "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    "Started Session {n} of User deploy.",
    "[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.{n8} DST=10.0.0.5 PROTO=TCP DPT={n}",
    "connect from unknown[192.0.2.{n8}]",
    "DHCPACK of 10.0.{p}.{n8} from 10.0.0.1",
]
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Clock:
    """Event times that advance by a random gap per line (milliseconds resolution)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.millis = 0

    def tick(self) -> datetime:
        self.millis += self.rng.randint(0, 2 * STEP_MS)
        return START + timedelta(milliseconds=self.millis)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(n=rng.randint(1, 99999), p=rng.randint(1, 50), n8=rng.randint(1, 254))


def nginx_lines(count: int, seed: int = SEED) -> Iterator[str]:
    """NCSA combined access log lines, as nginx writes them by default."""
    rng = random.Random(seed)
    clock = _Clock(rng)
    for _ in range(count):
        moment = clock.tick()
        client = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        status = rng.choice(_STATUSES)
        size = "-" if status in (204, 304) else str(rng.randint(0, 90000))
        user = "-" if rng.random() < 0.95 else f"user{rng.randint(1, 500)}"
        request = f"{rng.choice(_METHODS)} {_fill(rng.choice(_PATHS), rng)} HTTP/1.1"
        stamp = f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"
        yield (
            f'{client} - {user} [{stamp}] "{request}" {status} {size} '
            f'"{rng.choice(_REFERERS)}" "{rng.choice(_AGENTS)}"'
        )


def json_lines(count: int, seed: int = SEED) -> Iterator[str]:
    """Structured application logs, one JSON object per line (pino/zap-like keys)."""
    rng = random.Random(seed + 1)
    clock = _Clock(rng)
    for _ in range(count):
        moment = clock.tick()
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        duration = round(rng.expovariate(1 / 40), 3)
        yield (
            f'{{"time":"{stamp}","level":"{rng.choice(_LEVELS)}","service":"{rng.choice(_SERVICES)}",'
            f'"msg":"{_fill(rng.choice(_MESSAGES), rng)}","request_id":"{rng.getrandbits(64):016x}",'
            f'"duration_ms":{duration},"status":{rng.choice(_STATUSES)}}}'
        )


def logfmt_lines(count: int, seed: int = SEED) -> Iterator[str]:
    """logfmt lines as Go services (logrus, go-kit, Heroku) write them."""
    rng = random.Random(seed + 2)
    clock = _Clock(rng)
    for _ in range(count):
        moment = clock.tick()
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        yield (
            f"time={stamp} level={rng.choice(_LEVELS)} service={rng.choice(_SERVICES)} "
            f'msg="{_fill(rng.choice(_MESSAGES), rng)}" duration={rng.randint(1, 900)}ms '
            f"status={rng.choice(_STATUSES)}"
        )


def syslog_lines(count: int, seed: int = SEED) -> Iterator[str]:
    """A BSD syslog text file (/var/log/syslog): year-less times, host, program[pid]: message."""
    rng = random.Random(seed + 3)
    clock = _Clock(rng)
    for _ in range(count):
        moment = clock.tick()
        program = rng.choice(_PROGRAMS)
        pid = "" if program == "kernel" else f"[{rng.randint(100, 65000)}]"
        yield (
            f"{_MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S} {rng.choice(_HOSTS)} "
            f"{program}{pid}: {_fill(rng.choice(_SYSLOG_MESSAGES), rng)}"
        )


GENERATORS: dict[str, Callable[[int, int], Iterator[str]]] = {
    "nginx": nginx_lines,
    "json": json_lines,
    "logfmt": logfmt_lines,
    "syslog": syslog_lines,
}
EXTENSIONS = {"nginx": "access.log", "json": "app.jsonl", "logfmt": "app.logfmt", "syslog": "syslog"}


def write_dataset(kind: str, lines: int, directory: Path, seed: int = SEED) -> Path:
    """Write (or reuse, when already written with the same size and seed) one data file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{lines}-{seed}.{EXTENSIONS[kind]}"
    if path.exists():
        return path
    partial = path.with_suffix(path.suffix + ".part")
    with open(partial, "w", encoding="utf-8", newline="\n") as out:
        chunk: list[str] = []
        for line in GENERATORS[kind](lines, seed):
            chunk.append(line)
            if len(chunk) >= 50_000:
                out.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            out.write("\n".join(chunk) + "\n")
    partial.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per file (default 1,000,000)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/logscope-bench"), help="directory")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("kinds", nargs="*", default=list(GENERATORS), help="which files (default: all)")
    args = parser.parse_args()
    for kind in args.kinds:
        path = write_dataset(kind, args.lines, args.out, args.seed)
        print(f"{kind}: {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
