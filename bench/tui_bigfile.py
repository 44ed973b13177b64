"""A big file opened in the terminal UI, next to lnav in the same run: the time to the first screen
and to the first filtered answer, with the file not imported yet (issue 17).

`logscope tail FILE` on a fresh database and `lnav FILE` run in a real terminal (tmux, 180x45),
one at a time, alternating. The first screen is the time from starting the program to five log
lines on screen (logscope shows the file's end as read at once, then stores the file block by
block; lnav indexes the file as it shows it). Once it is up, a filter is typed: a text found only
on one line, 95% of the way into the file (logscope: `f`, the text, Enter; lnav: `:filter-in`,
the text, Enter), and the time from Enter until that line is on screen is the first filtered
answer. logscope answers it over the whole file while its import is still at the start: the part
not stored read in place (pipeline/catch_up.py). Then, for logscope alone, a typed filter on a
field (`status = 504`), timed until its count over the whole file (from the in-place engine,
checked against a count of the lines) is on the status line. The files come from bench/data.py
(nginx combined); logscope's modules are compiled to bytecode first, as an installed package's are.

    .venv/bin/python bench/tui_bigfile.py                        # 1,000,000 lines
    .venv/bin/python bench/tui_bigfile.py --copies 10 --no-typed # 1.6 GB: the 1 M file 10 times
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui_follow import REPO, Pane, lnav, load_average, logscope, shows_log_lines


def data_file(lines: int, directory: Path) -> Path:
    """bench/data.py's nginx file of `lines` lines (made once, kept in `directory`)."""
    found = sorted(directory.glob(f"nginx-{lines}-*.access.log"))
    if found:
        return found[0]
    command = [
        sys.executable,
        str(REPO / "bench" / "data.py"),
        "--lines",
        str(lines),
        "--out",
        str(directory),
    ]
    subprocess.run([*command, "nginx"], check=True, stdout=subprocess.DEVNULL)
    return sorted(directory.glob(f"nginx-{lines}-*.access.log"))[0]


def copies(count: int, directory: Path) -> Path:
    """bench/data.py's 1 M-line file `count` times over (bench/data.py writes 10 M lines in ~30
    minutes on this machine; copying takes seconds); each line is on `count` lines."""
    path = directory / f"nginx-{count}x1000000.access.log"
    if not path.exists():
        one = data_file(1_000_000, directory).read_bytes()
        with path.open("wb") as out:
            for _ in range(count):
                out.write(one)
    return path


def needle(path: Path) -> tuple[str, str, int, int]:
    """A client address 95% of the way into the file, that line's time (HH:MM:SS), and on how many
    lines the address is (one in a bench/data.py file; one per copy in --copies); and how many
    lines have status 504. Read line by line (a 10 M-line file too)."""
    with path.open("rb") as file:
        lines = sum(1 for _ in file)
    with path.open("rb") as file:
        for number, raw in enumerate(file):
            if number == lines * 95 // 100:
                line = raw.decode()
                break
    address = line.split(" ", 1)[0]
    stamp = line.split("[", 1)[1].split(" ", 1)[0].split(":", 1)[1]
    start = f"{address} - ".encode()
    count = failed = 0
    with path.open("rb") as file:
        for raw in file:
            count += raw.startswith(start)
            failed += b'" 504 ' in raw
    return address, stamp, count, failed


def press(pane: Pane, *keys: str) -> float:
    """Press tmux keys; the time the last was sent."""
    for key in keys:
        pane._tmux("send-keys", key)
        time.sleep(0.1)
    return time.monotonic()


def type_text(pane: Pane, text: str) -> None:
    pane._tmux("send-keys", "-l", text)
    time.sleep(0.2)


def type_filter(pane: Pane, text: str) -> float:
    """Open the filter box, type `text` (again, should a key have been lost), press Enter; when."""
    for _ in range(5):
        press(pane, "f", "C-u")
        type_text(pane, text)
        if pane.screen().lstrip().startswith(text):
            return press(pane, "Enter")
        press(pane, "Escape")
    raise TimeoutError(f"the filter box did not take {text!r}:\n{pane.screen()}")


def only(address: str) -> str:
    """The regex of lines starting with `address` (the client of an nginx line)."""
    return f"^{re.escape(address)} - "


def time_logscope(
    path: Path, work: Path, env: dict[str, str], address: str, found: int, failed: int, typed: bool = True
) -> dict[str, float]:
    db = work / f"tail-{time.monotonic_ns()}.duckdb"
    pane = Pane(logscope(shlex.quote(str(path)), db), env)
    figures = {}
    try:
        figures["first screen"] = pane.wait(shows_log_lines)
        pane.wait(lambda screen: "importing" in screen)  # the pipeline is up
        entered = type_filter(pane, f"/{only(address)}/")
        pane.wait(lambda screen: f"client={address}" in screen and f"{found:,}/{found:,}" in screen, 600)
        figures["first filtered answer (text)"] = time.monotonic() - entered
        percent = re.search(r"importing (\d+)%", pane.screen())
        figures["import done then, %"] = float(percent.group(1)) if percent else 100.0
        if not typed:
            return figures
        entered = type_filter(pane, "status = 504")
        pane.wait(lambda screen: f"{failed:,}/{failed:,}" in screen, 600)
        figures["typed filter status = 504 (whole file)"] = time.monotonic() - entered
        percent = re.search(r"importing (\d+)%", pane.screen())
        figures["import done then, % (typed)"] = float(percent.group(1)) if percent else 100.0
    finally:
        pane.close()
    return figures


def time_lnav(path: Path, env: dict[str, str], address: str, stamp: str) -> dict[str, float]:
    pane = Pane(lnav(shlex.quote(str(path))), env)
    figures = {}
    try:
        figures["first screen"] = pane.wait(shows_log_lines, 600)
        press(pane, ":")
        type_text(pane, f"filter-in {only(address)}")
        entered = press(pane, "Enter")
        pane.wait(lambda screen: address in screen and stamp in screen, 600)
        figures["first filtered answer (text)"] = time.monotonic() - entered
    finally:
        pane.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each program (alternating)")
    parser.add_argument(
        "--no-typed", action="store_true", help="skip the typed filter (a long wait on 10 M lines)"
    )
    parser.add_argument("--copies", type=int, help="the 1 M-line file this many times over, end to end")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "logscope-bench-data")
    args = parser.parse_args()
    for tool in ("tmux", "lnav"):
        if shutil.which(tool) is None:
            print(f"bench/tui_bigfile.py: needs {tool} (apt-get install {tool})", file=sys.stderr)
            return 2
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "logscope")], check=True)
    args.data.mkdir(parents=True, exist_ok=True)
    path = data_file(args.lines, args.data) if args.copies is None else copies(args.copies, args.data)
    address, stamp, found, failed = needle(path)
    size = path.stat().st_size / 1e6
    print(f"{path.name}: {size:,.0f} MB; filter /{only(address)}/ ({found:,} lines); {failed:,} with 504")
    with tempfile.TemporaryDirectory(prefix="tui-bigfile-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        env = {"TERM": "xterm-256color", "TZ": "UTC", "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
        env["XDG_STATE_HOME"] = str(home)
        orders = [("logscope", "lnav") if n % 2 == 0 else ("lnav", "logscope") for n in range(args.rounds)]
        for order in orders:
            for program in order:
                load = load_average()
                if program == "logscope":
                    figures = time_logscope(path, work, env, address, found, failed, not args.no_typed)
                else:
                    figures = time_lnav(path, env, address, stamp)
                for name, value in figures.items():
                    unit = "" if "%" in name else " s"
                    print(f"{program} {name}: {value:.2f}{unit} (load {load})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
