"""Helpers for the tests that run real programs (MariaDB, nginx, strace...) and ingest their logs.

Each test starts a program on a private port (47400-47499; 48400-48499 in xdist worker gw1, ...)
and directory, makes it log, stops it, then runs the real `logscope ingest` and reads what was
stored. A program that is not installed
skips its test with the reason; `.ci/run` installs them all.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import query_db, run_cli
from ports import worker_port

UTC = dt.UTC
SBIN = ("/usr/sbin", "/sbin", "/usr/lib/postgresql/15/bin")


def program(name: str) -> str:
    """The path of an installed program, or skip the test saying which Debian package is missing."""
    found = shutil.which(name) or next(
        (f"{d}/{name}" for d in SBIN if os.access(f"{d}/{name}", os.X_OK)), None
    )
    if found is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it with apt-get)")
    return found


def debian_python_module(module: str) -> str:
    """/usr/bin/python3 when it can import `module` (a Debian python3-* package), else skip."""
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"Debian's python3 lacks {module} (.ci/run installs python3-{module})")
    return python


@contextmanager
def shared_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory every user can write (for servers that drop root to their own user)."""
    path = Path(tempfile.mkdtemp(prefix=f"logscope-{prefix}-", dir="/tmp"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def running(
    argv: list[str],
    *,
    cwd: Path,
    log_name: str = "server.out",
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
    port: int | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group with TZ=UTC (given a `port`, until it listens on
    127.0.0.1:`port`); stop it (and only it) on exit."""
    env = {**os.environ, "TZ": "UTC"}
    out = (cwd / log_name).open("wb")
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, user=user
    )
    try:
        if port is not None:
            wait_port(port, process)
        yield process
    finally:
        stop(process, stop_signal)
        out.close()


def stop(process: subprocess.Popen[bytes], stop_signal: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Signal the process and wait for it; kill its process group if it does not exit."""
    if process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Poll `check` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


OUR_PORTS = range(worker_port(47400), worker_port(47500))
_handed_out: set[int] = set()


def free_port(preferred: int) -> int:
    """`preferred` if nothing holds it (TCP or UDP) now, else the next free port of OUR_PORTS.

    The ports lie in Linux's ephemeral range, so another process's outgoing connection can hold one
    for a while; choosing a held port would fail the test for a reason it is not about."""
    for port in (worker_port(preferred), *OUR_PORTS):
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {OUR_PORTS.start}-{OUR_PORTS.stop - 1}")


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 20) -> None:
    def ready() -> bool:
        if process is not None and process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode} before listening on {port}")
        return port_open(port)

    wait_for(ready, f"127.0.0.1:{port}", timeout)


def get_statuses(port: int, paths: Iterable[str], proxy: str | None = None) -> list[int]:
    """The HTTP status of a GET of each path from 127.0.0.1:`port`, in order (see `http_get`)."""
    return [http_get(f"http://127.0.0.1:{port}{path}", proxy) for path in paths]


def http_get(url: str, proxy: str | None = None) -> int:
    """The HTTP status of a GET (0 when the connection fails)."""
    handlers = [urllib.request.ProxyHandler({"http": proxy} if proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def go_program(folder: Path, source: str, module: str | None = None) -> tuple[Path, dict[str, str]]:
    """Build `source` (main.go, with `module` as go.mod if given, from Debian's golang-* source
    packages: nothing is downloaded) in `folder`; the program and the environment to run it in."""
    go = program("go")
    (folder / "main.go").write_text(source)
    env = {"TZ": "UTC", "PATH": "/usr/bin:/bin", "HOME": str(folder), "GOCACHE": str(folder / "cache")}
    if module is None:
        env["GO111MODULE"] = "off"
    else:
        (folder / "go.mod").write_text(module)
        env |= {"GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    built = subprocess.run(
        [go, "build", "-o", "prog", "."], cwd=folder, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    return folder / "prog", env


def npm_program(root: Path, packages: list[str], source: str, what: str) -> Path:
    """`packages` installed from the npm registry into `root`, `source` as its app.js: the
    directory (skips without npm, or when the registry cannot be reached: `what` names them)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (.ci/run installs it with apt-get)")
    argv = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(root), *packages]
    install = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if install.returncode != 0:
        pytest.skip(f"npm could not install {what}: {install.stderr.strip()[-300:]}")
    (root / "app.js").write_text(source)
    return root


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass
class Stored:
    """What `logscope ingest` stored for one file."""

    rows: list[tuple]  # (ts, received_at, format, level, message, fields, raw), in file order

    @property
    def formats(self) -> Counter[str]:
        return Counter(row[2] for row in self.rows)

    @property
    def levels(self) -> Counter[str | None]:
        return Counter(row[3] for row in self.rows)

    def of(self, *formats: str) -> list[tuple]:
        return [row for row in self.rows if row[2] in formats]


def ingest(log: Path, db: Path, *extra: str) -> Stored:
    """Run the real `logscope ingest LOG --db DB` and read back the records of LOG."""
    return ingest_all([log], db, *extra)[log]


def ingest_all(logs: list[Path], db: Path, *extra: str) -> dict[Path, Stored]:
    """One `logscope ingest LOG… --db DB` run; the records stored for each log."""
    result = run_cli("ingest", *map(str, logs), "--db", str(db), *extra)
    assert result.returncode == 0, result.stderr
    sql = "SELECT ts, received_at, format, level, message, fields, raw FROM logs WHERE source = ? ORDER BY id"
    return {log: Stored(query_db(db, sql, [str(log)])) for log in logs}


def assert_parsed(
    stored: Stored, formats: set[str], *, share: float = 0.99, ignore_blank: bool = False
) -> None:
    """At least `share` of the records are of the expected formats (not raw, not another)."""
    rows = [row for row in stored.rows if not (ignore_blank and row[2] == "raw" and not row[6].strip())]
    assert rows, "nothing was stored"
    good = sum(row[2] in formats for row in rows)
    assert good / len(rows) >= share, f"{good}/{len(rows)} records in {formats}: {stored.formats}"


def assert_times_from_lines(rows: list[tuple], start: dt.datetime, end: dt.datetime) -> None:
    """Every record's time lies in the program's run (to the second), so it came from the line."""
    low = start.replace(microsecond=0) - dt.timedelta(seconds=1)
    for row in rows:
        assert row[0] is not None and low <= row[0] <= end, (row[0], start, end, row[6][:120])
        assert row[0] < row[1], ("ts is the import time", row[6][:120])


def count_lines(path: Path, predicate: Callable[[str], bool]) -> int:
    """How many lines of the file satisfy `predicate` (the program's own count of something)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return sum(1 for line in handle if predicate(line.rstrip("\n")))
