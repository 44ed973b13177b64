"""A real terminal for tests: `logscope tail` in tmux at a fixed size, keys sent, the screen read back.

`text()` is what a person reads (`capture-pane -p`); `styled_lines()` adds the colours
(`capture-pane -e`, parsed by rich) so a test can ask which rows carry a background.
"""

from __future__ import annotations

import functools
import io
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

REPO = Path(__file__).resolve().parent.parent
TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
SAMPLE_LOGS = REPO / "sample_logs"


def tmux_socket_name(prefix: str) -> str:
    """A tmux server name no other test shares: `tmp_path.name` repeats across xdist workers and
    concurrent pytest runs (each numbers its own temporary directories from 0)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Terminal:
    """One tmux server (its own socket) running one command in a window of `width` x `height`."""

    def __init__(self, command: str, width: int = 180, height: int = 45, env: dict[str, str] | None = None):
        self.socket = tmux_socket_name("logscope-term")
        self.width, self.height = width, height
        settings = {"TZ": "UTC", "TERM": "xterm-256color", **(env or {})}
        exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in settings.items())
        # The shell stays after the command so a crash's traceback can still be read.
        # The command waits for the resize below (started at once, it may take tmux's 80x24).
        script = (
            f"sleep 0.5; cd {shlex.quote(str(REPO))} && env {exports} {command}; echo __exited $?; sleep 60"
        )
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), script)
        self._tmux("resize-window", "-x", str(width), "-y", str(height))

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            [TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=False
        )
        return result.stdout

    def keys(self, *keys: str, pause: float = 0.15) -> None:
        """Press tmux keys (`Enter`, `Escape`, `G`, `C-c`, …), one at a time."""
        for key in keys:
            self._tmux("send-keys", key)
            # A key read together with an Escape makes alt+KEY: give the Escape its own read.
            time.sleep(max(pause, 0.6) if key == "Escape" and len(keys) > 1 else pause)

    def type(self, text: str) -> None:
        """Type literal text."""
        self._tmux("send-keys", "-l", text)
        time.sleep(0.2)

    def text(self) -> str:
        return self._tmux("capture-pane", "-p")

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def styled_lines(self) -> list[Text]:
        """The screen's rows with their colours."""
        ansi = self._tmux("capture-pane", "-p", "-e")
        # tmux writes a colour only where it changes, so one row may continue the previous one's.
        return list(Text.from_ansi(ansi.rstrip("\n")).split("\n", allow_blank=True))

    def wait_for(self, condition: Callable[[str], bool] | str, timeout: float = 30.0) -> str:
        """Wait until the screen shows `condition` (text, or a test of the screen's text); the screen."""
        test = (lambda screen: condition in screen) if isinstance(condition, str) else condition
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if test(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {condition!r}; the screen:\n{screen}")
            time.sleep(0.2)

    def close(self) -> None:
        self._tmux("kill-server")


def logscope_command(*args: str) -> str:
    """The shell command running this checkout's logscope with `args`."""
    return " ".join(shlex.quote(part) for part in (sys.executable, "-m", "logscope", *args))


@functools.cache
def _console() -> Console:
    return Console(width=400, color_system="truecolor", file=io.StringIO())


def background_at(line: Text, column: int) -> str | None:
    """The background colour of one cell of a captured row (None: the terminal's default)."""
    style = line.get_style_at_offset(_console(), column)
    return None if style.bgcolor is None else style.bgcolor.name


def foreground_at(line: Text, column: int) -> str | None:
    """The text colour of one cell of a captured row (None: the terminal's default)."""
    style = line.get_style_at_offset(_console(), column)
    return None if style.color is None else style.color.name
