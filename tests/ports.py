"""Fixed TCP/UDP ports for tests that need one known in advance, apart for each pytest-xdist worker."""

from __future__ import annotations

import os

PORTS_PER_WORKER = 1000


def worker_port(port: int) -> int:
    """`port` in the first worker (or without xdist); a thousand higher in each further one
    (gw1: 48xxx for 47xxx), so parallel workers never start two servers on one port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return port + PORTS_PER_WORKER * int(worker.removeprefix("gw") or 0)
