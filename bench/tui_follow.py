"""What following costs, next to lnav in the same run: CPU and RSS of `logscope tail` and of lnav
following one file growing at a steady rate, and the time to the first screen on sample_logs/.

Both run in a real terminal (tmux, 180x45), one at a time, alternating (logscope, lnav, lnav,
logscope, …) so that a shared machine's changing load weighs on both alike. A writer process
appends nginx access lines at --rates lines/s; once the program shows log lines and --warmup
seconds more have passed, its CPU time (utime + stime from /proc) and RSS are read, again after
--seconds, giving the share of one core (and the CPU seconds it is made of), the RSS at the end
(and its anonymous part: what is not shared library code), the highest RSS seen, sampled every
second, and whether pyarrow's library was mapped into the process. The first screen is the
time from starting the program to five log lines on screen (capture-pane every 20 ms; logscope on
a fresh database shows the files' ends as read until their records are stored, as lnav shows the
raw lines), and, for logscope, to its screen drawn (the status line, before the pipeline is
assembled) and to the status line counting all 1,282 sample records, each with the CPU time the
process had used by then (user + system, all threads: what a loaded machine inflates least).
logscope's modules are compiled to bytecode first, as an installed package's are.

    .venv/bin/python bench/tui_follow.py                      # 200 and 2,000 lines/s, 20 s each
    .venv/bin/python bench/tui_follow.py --rates 200 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_logs"
TICKS = os.sysconf("SC_CLK_TCK")
LOG_LINE = re.compile(r"\d\d:\d\d:\d\d")
MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")
ARROW_FILES = re.compile(r"pyarrow|libarrow|libparquet|numpy|openblas|gfortran")

WRITER = r"""
import sys, time
path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
statuses = (200, 200, 200, 304, 404, 200, 500, 200)
with open(path, "a", buffering=1) as out:
    start, sent = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate)
        lines = []
        for i in range(sent, due):
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            lines.append(f'203.0.113.{i % 250} - - [{stamp}] "GET /api/items/{i % 97} HTTP/1.1"'
                         f' {statuses[i % 8]} {100 + i % 9000} "-" "bench/1.0"\n')
        out.write("".join(lines))
        sent = due
        time.sleep(0.01)
"""


class Pane:
    """One program in its own tmux server, run with `exec` so the pane's pid is the program's."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"bench-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self.started = time.monotonic()
        self._tmux(
            "new-session",
            "-d",
            "-x",
            "180",
            "-y",
            "45",
            f"exec env -u PYTHONDONTWRITEBYTECODE {exports} {command}",
        )
        self.pid = int(self._tmux("list-panes", "-F", "#{pane_pid}").split()[0])

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p")

    def wait(self, test, timeout: float = 60.0) -> float:
        """Seconds from start until `test(screen)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test(self.screen()):
                return time.monotonic() - self.started
            time.sleep(0.02)
        raise TimeoutError(self.screen())

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime

    def rss_mb(self, field: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def memory_parts(self) -> dict[str, float]:
        """RSS in MB by what holds it (/proc/PID/smaps): anonymous memory (the heaps: Python's
        objects, DuckDB's and Arrow's buffers), DuckDB's library, pyarrow's and numpy's libraries
        (their code and data pages), and every other file mapped."""
        parts = dict.fromkeys(("anonymous", "duckdb", "arrow+numpy", "other files"), 0.0)
        part = "anonymous"
        for line in Path(f"/proc/{self.pid}/smaps").read_text().splitlines():
            fields = line.split()
            if MAPPING.match(line):
                part = holder(fields[5] if len(fields) > 5 else "")
            elif fields and fields[0] == "Rss:":
                parts[part] += int(fields[1]) / 1024
        return parts

    def maps_arrow(self) -> bool:
        """Whether Arrow's library is mapped into the program (pyarrow was imported)."""
        return "libarrow" in Path(f"/proc/{self.pid}/maps").read_text()

    def close(self) -> None:
        self._tmux("kill-server")


def holder(mapped: str) -> str:
    """Which part of memory_parts a mapping of `mapped` (a path, `[heap]`, or nothing) is."""
    if not mapped.startswith("/"):
        return "anonymous"
    if "duckdb" in mapped:
        return "duckdb"
    return "arrow+numpy" if ARROW_FILES.search(mapped) else "other files"


def logscope(sources: str, db: Path) -> str:
    return f"{shlex.quote(sys.executable)} -m logscope tail {sources} --db {shlex.quote(str(db))}"


def lnav(sources: str) -> str:
    return f"lnav {sources}"


def shows_log_lines(screen: str) -> bool:
    return sum(1 for line in screen.splitlines() if LOG_LINE.search(line)) >= 5


def load_average() -> str:
    with open("/proc/loadavg") as load:
        return load.read().split()[0]


def first_screen(work: Path, env: dict[str, str], program: str) -> dict[str, float]:
    figures = {}
    if program == "logscope":
        db = work / f"first-{uuid.uuid4().hex[:6]}.duckdb"
        pane = Pane(logscope(shlex.quote(str(SAMPLE)), db), env)
        try:
            figures["screen drawn"] = pane.wait(lambda screen: "following ·" in screen)
            figures["CPU to the screen drawn"] = pane.cpu_seconds()
            figures["first lines"] = pane.wait(shows_log_lines)
            figures["CPU to the first lines"] = pane.cpu_seconds()
            figures["all 1,282 records"] = pane.wait(lambda screen: "/1,282" in screen)
            figures["CPU to all records"] = pane.cpu_seconds()
        finally:
            pane.close()
    else:
        pane = Pane(lnav(shlex.quote(str(SAMPLE))), env)
        try:
            figures["first lines"] = pane.wait(shows_log_lines)
            figures["CPU to the first lines"] = pane.cpu_seconds()
        finally:
            pane.close()
    return figures


def follow(work: Path, env: dict[str, str], program: str, rate: int, warmup: float, seconds: float) -> dict:
    """One program following a file growing at `rate` lines/s: CPU share and memory."""
    log = work / f"growing-{program}-{rate}.log"
    log.write_text("")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(rate), "3600"])
    if program == "logscope":
        pane = Pane(
            logscope(shlex.quote(str(log)), work / f"follow-{rate}-{uuid.uuid4().hex[:6]}.duckdb"), env
        )
    else:
        pane = Pane(lnav(shlex.quote(str(log))), env)
    try:
        pane.wait(shows_log_lines, timeout=120)  # started and drawing: the start-up is not counted
        time.sleep(warmup)
        began, cpu = time.monotonic(), pane.cpu_seconds()
        peak = 0.0
        while time.monotonic() - began < seconds:
            peak = max(peak, pane.rss_mb())
            time.sleep(1.0)
        used, elapsed = pane.cpu_seconds() - cpu, time.monotonic() - began
        rss = pane.rss_mb()
        return {
            "cpu": used / elapsed,
            "cpu_seconds": used,
            "seconds": elapsed,
            "rss": rss,
            "anon": pane.rss_mb("RssAnon"),
            "peak": max(peak, rss),
            "arrow": pane.maps_arrow(),
            "parts": pane.memory_parts(),
        }
    finally:
        writer.kill()
        writer.wait()
        pane.close()


def compile_logscope() -> None:
    """Compile logscope's modules to bytecode, as an installed package's are."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "logscope")], check=True)


def terminal_env(work: Path) -> dict[str, str]:
    """The environment the programs run in: a terminal, UTC, and a home of their own in `work`."""
    home = work / "home"
    home.mkdir()
    return {"TERM": "xterm-256color", "TZ": "UTC", "HOME": str(home), "XDG_CONFIG_HOME": str(home)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=int, nargs="*", default=[200, 2000], help="none: first screens only")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each program (alternating)")
    args = parser.parse_args()
    for tool in ("tmux", "lnav"):
        if shutil.which(tool) is None:
            print(f"bench/tui_follow.py: needs {tool} (apt-get install {tool})", file=sys.stderr)
            return 2
    compile_logscope()
    with tempfile.TemporaryDirectory(prefix="tui-follow-") as tmp:
        work = Path(tmp)
        env = terminal_env(work)
        orders = [("logscope", "lnav") if n % 2 == 0 else ("lnav", "logscope") for n in range(args.rounds)]
        for order in orders:
            for program in order:
                load = load_average()
                for name, seconds in first_screen(work, env, program).items():
                    print(f"first screen, {program} {name}: {seconds:.2f} s (load {load})", flush=True)
        for rate in args.rates:
            for order in orders:
                for program in order:
                    load = load_average()
                    figures = follow(work, env, program, rate, args.warmup, args.seconds)
                    arrow = ", pyarrow loaded" if figures["arrow"] else ""
                    print(
                        f"following {rate:,} lines/s, {program}: {figures['cpu']:.1%} of a core"
                        f" ({figures['cpu_seconds']:.2f} CPU-s in {figures['seconds']:.1f} s),"
                        f" RSS {figures['rss']:.0f} MB ({figures['anon']:.0f} MB anonymous,"
                        f" peak {figures['peak']:.0f} MB{arrow}) (load {load})",
                        flush=True,
                    )
                    if program == "logscope":
                        parts = ", ".join(f"{name} {mb:.0f}" for name, mb in figures["parts"].items())
                        print(f"  its RSS in MB: {parts}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
