"""lnav, the comparison: installed from Debian when missing, timed as a whole process.

`lnav -n -c ';SELECT ...' FILE` loads the file headless, indexes it with its own formats, runs the
SQL and exits: the same work as `logscope ingest` + `logscope query`, with lnav's index in memory
instead of a database on disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

NGINX_QUERY = "SELECT count(*) FROM access_log WHERE sc_status >= 500"


@dataclass
class Run:
    """One timed process: wall seconds, peak resident memory (MB), what it printed, and the CPU
    seconds it used (user + system, all threads: steadier than wall time on a shared machine)."""

    seconds: float
    peak_mb: float
    stdout: str
    returncode: int
    cpu_s: float = 0.0


def timed(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run `command` to its end: wall time, and its own peak RSS (reaped with os.wait4)."""
    started = time.perf_counter()
    with open(os.devnull, "rb") as stdin:
        process = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        out_chunks: list[bytes] = []
        err_chunks: list[bytes] = []
        _drain(process, out_chunks, err_chunks)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = b"".join(out_chunks).decode()
    if process.returncode != 0:
        stderr = b"".join(err_chunks).decode()
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {stderr[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss / 1024, stdout, process.returncode, cpu)


def _drain(process: subprocess.Popen, out: list[bytes], err: list[bytes]) -> None:
    """Read both pipes to their end without reaping the process (threads, no deadlock)."""

    def pump(stream, chunks: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            chunks.append(chunk)

    threads = [
        threading.Thread(target=pump, args=(process.stdout, out)),
        threading.Thread(target=pump, args=(process.stderr, err)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def ensure_lnav() -> str:
    """The lnav executable, installed with apt-get (Debian package `lnav`) when missing."""
    found = shutil.which("lnav")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "lnav"], check=True, env=env)
    found = shutil.which("lnav")
    if not found:
        raise RuntimeError("lnav is still not on PATH after apt-get install lnav")
    return found


def lnav_version(lnav: str) -> str:
    result = subprocess.run([lnav, "-V"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or result.stderr.strip()


def lnav_query(lnav: str, path: Path, sql: str = NGINX_QUERY) -> tuple[Run, int | None]:
    """Time lnav answering `sql` over `path`; the count it printed (None if none could be read)."""
    home = Path(os.environ.get("TMPDIR", "/tmp")) / "logscope-bench-lnav-home"
    home.mkdir(parents=True, exist_ok=True)
    # A private HOME: no saved session, no config of the user's, nothing cached between runs.
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    run = timed([lnav, "-n", "-c", f";{sql}", str(path)], env=env)
    numbers = [token for token in run.stdout.split() if token.isdigit()]
    return run, int(numbers[-1]) if numbers else None
