"""`logscope demo`: a simulated microservice fleet with incidents, watched live in the TUI."""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logscope.commands import tail
from logscope.commands.common import examples, warn
from logscope.demo.fleet import BACKFILL, GATEWAY_LOG, SPEED
from logscope.errors import LogscopeError

FLEET_START_SECONDS = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="watch a simulated microservice fleet, with incidents the bundled rules catch",
        description="Simulate a gateway (nginx access log), three JSON-logging services and syslog"
        " over UDP, writing to a temporary directory, and open the live TUI on it. Fifteen simulated"
        " minutes pass in the first real minute: a 5xx burst, a missing heartbeat and an error storm"
        " fire alerts in that time (docs/tui.md).",
        **examples("logscope demo", "logscope demo --dir /tmp/fleet   # keep the logs and database"),
    )
    parser.add_argument("--dir", metavar="DIR", help="write the fleet's logs and database here (kept)")
    parser.add_argument("--db", metavar="PATH", help="database (default: demo.duckdb in the directory)")
    parser.add_argument("--speed", type=float, default=SPEED, help=f"catch-up speed (default {SPEED:g}×)")
    parser.add_argument(
        "--backfill",
        type=float,
        default=BACKFILL,
        metavar="SECONDS",
        help=f"simulated seconds before now the fleet starts at (default {BACKFILL:g})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.set_defaults(handler=run)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_fleet(logs: Path, port: int, speed: float, backfill: float) -> subprocess.Popen:
    """The fleet simulator in its own process, once it has created its log files."""
    command = [sys.executable, "-m", "logscope.demo", str(logs), "--udp", str(port)]
    fleet = subprocess.Popen(
        [*command, "--speed", str(speed), "--backfill", str(backfill)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + FLEET_START_SECONDS
    while not (logs / GATEWAY_LOG).exists():
        if fleet.poll() is not None or time.monotonic() > deadline:
            fleet.kill()
            raise LogscopeError("demo: the fleet simulator did not start")
        time.sleep(0.05)
    return fleet


def run(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="logscope-demo-"))
    logs = directory / "logs"
    db = args.db or str(directory / "demo.duckdb")
    port = free_udp_port()
    tail_args = tail.build_args(
        [str(logs), f"udp://127.0.0.1:{port}", "--db", db, "--tz", "UTC"],
    )
    fleet = start_fleet(logs, port, args.speed, args.backfill)
    try:
        return tail.run(tail_args)
    finally:
        fleet.terminate()
        try:
            fleet.wait(5)
        except subprocess.TimeoutExpired:
            fleet.kill()
        if args.dir or args.keep:
            warn(f"demo: logs and database kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
            warn(f"demo: removed {directory} (--keep or --dir keeps the logs and database)")
