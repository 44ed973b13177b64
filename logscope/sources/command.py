"""`cmd:"COMMAND ARGS"`: run a command and read its stdout and stderr lines (stderr ones marked).

`cmd+restart:"COMMAND ARGS"` starts the command again whenever it ends, waiting longer after each
quick exit (1 s doubling up to 30 s; back to 1 s once a run lasted a minute).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import time
from typing import Any

from logscope.errors import LogscopeError
from logscope.record import LineBatch, now_us
from logscope.sources.base import SourceContext
from logscope.sources.lines import LineSplitter

PREFIXES = ("cmd:", "cmd+restart:")
READ_BYTES = 1 << 16
POLL_SECONDS = 0.2
# After stop: how long the command has to end on SIGTERM before it gets SIGKILL.
TERMINATE_SECONDS = 2.0
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
HEALTHY_RUN_SECONDS = 60.0
STDERR_MARK = {"stream": "stderr"}


def parse_command(argument: str) -> tuple[list[str], bool]:
    """The argv of a `cmd:` argument and whether to restart it; a one-line error if it is empty."""
    prefix = next(prefix for prefix in PREFIXES if argument.startswith(prefix))
    try:
        argv = shlex.split(argument[len(prefix) :])
        if len(argv) == 1 and " " in argv[0]:  # the quotes reached us: cmd:"tail -F x"
            argv = shlex.split(argv[0])
    except ValueError as exc:
        raise LogscopeError(f"{argument}: {exc}", 2) from None
    if not argv:
        raise LogscopeError(f'{argument}: no command given, e.g. cmd:"journalctl -f"', 2)
    return argv, prefix == "cmd+restart:"


class CommandSource:
    """A command whose output lines are records; source name `cmd:COMMAND ARGS`."""

    def __init__(self, argument: str) -> None:
        self.argv, self.restart = parse_command(argument)
        if shutil.which(self.argv[0]) is None:
            raise LogscopeError(f"{argument}: command not found: {self.argv[0]}")
        self.name = "cmd:" + shlex.join(self.argv)

    def size_hint(self) -> int | None:
        return None

    def run(self, ctx: SourceContext) -> None:
        delay = FIRST_RESTART_DELAY
        try:
            while True:
                started = time.monotonic()
                status = self._run_once(ctx)
                if ctx.stop.is_set():
                    return
                if not self.restart:
                    if status != 0:
                        ctx.report_error(f"{self.name}: {_describe_status(status)}", self.name)
                    return
                if time.monotonic() - started >= HEALTHY_RUN_SECONDS:
                    delay = FIRST_RESTART_DELAY
                ctx.report_error(
                    f"{self.name}: {_describe_status(status)}; restarting in {delay:g} s", self.name
                )
                if ctx.stop.wait(delay):
                    return
                delay = min(delay * 2, MAX_RESTART_DELAY)
        finally:
            ctx.emit(LineBatch(self.name, [], now_us(), final=True))

    def _run_once(self, ctx: SourceContext) -> int:
        """Run the command to its end (or until stop); returns its exit status."""
        try:
            process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # terminal signals go to us; we end the command's group
            )
        except OSError as exc:
            ctx.report_error(f"{self.name}: cannot start: {exc.strerror or exc}", self.name)
            return 127
        assert process.stdout is not None and process.stderr is not None
        streams = {process.stdout.fileno(): None, process.stderr.fileno(): STDERR_MARK}
        splitters = {fd: LineSplitter() for fd in streams}
        stopping_since: float | None = None
        with selectors.DefaultSelector() as selector:
            for fd in streams:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                if ctx.stop.is_set():
                    stopping_since = self._terminate(process, stopping_since)
                    if time.monotonic() - stopping_since > 2 * TERMINATE_SECONDS:
                        break  # something outside its process group holds the pipes open
                for key, _ in selector.select(POLL_SECONDS):
                    fd = key.fd
                    data = os.read(fd, READ_BYTES)
                    if data:
                        ctx.add_bytes(self.name, len(data))
                        lines, extras = splitters[fd].feed(data)
                    else:
                        selector.unregister(fd)
                        lines, extras = splitters[fd].flush()
                    if lines:
                        ctx.emit(self._batch(lines, extras, streams[fd]))
        process.stdout.close()
        process.stderr.close()
        return process.wait()

    def _terminate(self, process: subprocess.Popen[bytes], since: float | None) -> float:
        """Ask the command's process group to end; insist after TERMINATE_SECONDS."""
        now = time.monotonic()
        if since is None:
            _signal_group(process, signal.SIGTERM)
            return now
        if now - since >= TERMINATE_SECONDS:
            _signal_group(process, signal.SIGKILL)
        return since

    def _batch(self, lines: list[str], extras: Any, mark: dict[str, str] | None) -> LineBatch:
        if mark is not None:
            extras = [{**mark, **found} if found else mark for found in (extras or [None] * len(lines))]
        return LineBatch(self.name, lines, now_us(), None, extras)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _describe_status(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"
