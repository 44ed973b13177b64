"""Where notifications go: a JSON-lines stream, a command (exec) and an HTTP POST (webhook).

Each output has its own bounded queue and thread, so a slow or failing one never holds up
ingestion or the other outputs; when its queue is full, notifications for it are dropped and
counted.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import orjson

from logscope.alerting.model import ActionSpec

QUEUE_SIZE = 1000
ErrorCallback = Callable[[str], None]


class Output:
    """A notification sink run in its own thread; subclasses implement `deliver`."""

    name = "output"

    def __init__(self, on_error: ErrorCallback | None = None) -> None:
        self.on_error = on_error or (lambda message: None)
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self.dropped = 0
        self.delivered = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name=f"alert-output:{self.name}", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any], until: float | None = None) -> None:
        """Queue a notification without waiting (with `until`, a `time.monotonic()` value:
        waiting for room until then)."""
        try:
            if until is None:
                self.queue.put_nowait(payload)
            else:
                self.queue.put(payload, timeout=max(0.0, until - time.monotonic()))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                self.on_error(f"{self.name}: falling behind, {self.dropped} notifications dropped")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (waiting at most `timeout` seconds), then stop."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.queue.put(None, timeout=max(0.01, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while (payload := self.queue.get()) is not None:
            try:
                self.deliver(payload)
                self.delivered += 1
            except Exception as exc:
                self.failed += 1
                self.on_error(f"{self.name}: {exc}")

    def deliver(self, payload: dict[str, Any]) -> None:
        raise NotImplementedError


class JsonLinesOutput(Output):
    """One JSON object per line to a stream (stdout or a file), flushed after each."""

    def __init__(self, stream: IO[bytes], name: str = "alerts-out", on_error: ErrorCallback | None = None):
        self.name = name
        self.stream = stream
        super().__init__(on_error)

    def deliver(self, payload: dict[str, Any]) -> None:
        self.stream.write(orjson.dumps(payload, default=str, option=orjson.OPT_APPEND_NEWLINE))
        self.stream.flush()


class ConfiguredAction(Output):
    """An output configured by a rule file's `[[action]]` table."""

    def __init__(self, spec: ActionSpec, on_error: ErrorCallback | None = None) -> None:
        self.spec = spec
        self.name = f"action {spec.name!r}"
        super().__init__(on_error)


class ExecAction(ConfiguredAction):
    """Runs a command for each notification, with the alert JSON on its standard input."""

    def deliver(self, payload: dict[str, Any]) -> None:
        spec = self.spec
        env_extra = {
            "LOGSCOPE_ALERT_RULE": str(payload.get("rule", "")),
            "LOGSCOPE_ALERT_EVENT": str(payload.get("event", "")),
            "LOGSCOPE_ALERT_SEVERITY": str(payload.get("severity", "")),
        }

        try:
            done = subprocess.run(
                spec.command,
                input=orjson.dumps(payload, default=str),
                capture_output=True,
                timeout=spec.timeout,
                env={**os.environ, **env_extra},
                check=False,
            )
        except FileNotFoundError:
            raise RuntimeError(f"command not found: {spec.command[0]}") from None
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"{spec.command[0]} ran longer than {spec.timeout:g} s and was killed"
            ) from None
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip().splitlines()
            detail = f": {stderr[-1]}" if stderr else ""
            raise RuntimeError(f"{spec.command[0]} exited with status {done.returncode}{detail}")


class WebhookAction(ConfiguredAction):
    """POSTs the alert JSON to a URL, with a timeout and retries (exponential backoff)."""

    def deliver(self, payload: dict[str, Any]) -> None:
        import urllib.error  # (here: ~1 MB of modules every run with rules would hold otherwise)
        import urllib.request

        spec = self.spec
        body = orjson.dumps(payload, default=str)
        headers = {"Content-Type": "application/json", "User-Agent": "logscope", **spec.headers}
        problem = ""
        for attempt in range(spec.retries + 1):
            if attempt:
                time.sleep(spec.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(spec.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=spec.timeout) as response:
                    response.read()
                return
            except urllib.error.HTTPError as exc:
                problem = f"HTTP {exc.code} {exc.reason}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # the request itself is wrong: retrying will not help
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                problem = str(reason) or type(exc).__name__
        tries = attempt + 1
        raise RuntimeError(
            f"POST {spec.url} failed after {tries} attempt{'s' if tries > 1 else ''}: {problem}"
        )


def build_action(
    spec: ActionSpec, on_error: ErrorCallback | None = None, packs: dict[str, str] | None = None
) -> Output:
    """The output for an `[actions.NAME]` table; `packs`: each rule's pack (its file's name)."""
    if spec.type == "alertmanager":
        from logscope.alerting.alertmanager import AlertmanagerAction

        return AlertmanagerAction(spec, on_error, packs)
    return ExecAction(spec, on_error) if spec.type == "exec" else WebhookAction(spec, on_error)
