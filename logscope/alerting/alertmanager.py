"""The `alertmanager` action: alerts posted to Prometheus Alertmanager's API v2 (`/api/v2/alerts`).

Like Prometheus, it posts an alert when it fires, posts every firing alert again each `resend`
(Prometheus' `--rules.alert.resend-delay`, 1m) with `endsAt` four resend periods ahead (so an
alert whose sender went away resolves by itself), and posts `endsAt` = the resolution time when
it resolves.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from logscope.alerting.actions import ErrorCallback, WebhookAction
from logscope.alerting.model import ActionSpec

API_PATH = "/api/v2/alerts"
# Firing alerts are posted valid until this many resend periods ahead (Prometheus uses 4).
VALID_FOR_RESENDS = 4
# At most this many alerts per POST when re-posting every firing alert.
POST_CHUNK = 500
DEFAULT_GENERATOR_URL = "logscope://query?sql={sql}"
_LABEL_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")


def api_endpoint(url: str) -> str:
    """`http://host:9093` (or with a path prefix) → its `/api/v2/alerts`."""
    base = url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def label_name(name: str) -> str:
    """A Prometheus label name: invalid characters become `_`, a leading digit gets a `_`."""
    cleaned = _LABEL_NAME_BAD.sub("_", name) or "_"
    return f"_{cleaned}" if cleaned[0].isdigit() else cleaned


def records_query(payload: dict[str, Any]) -> str:
    """The `logscope query` SQL that shows the alert's latest matching records."""
    ids = [int(value) for value in payload.get("example_ids") or []]
    if ids:
        return f"FROM logs WHERE id IN ({', '.join(map(str, ids))}) ORDER BY ts"
    first, last = payload.get("first_at"), payload.get("last_at") or payload.get("at")
    if first and last:
        return f"FROM logs WHERE ts BETWEEN TIMESTAMPTZ '{first}' AND TIMESTAMPTZ '{last}' ORDER BY ts"
    return "FROM alerts ORDER BY updated_at DESC"


def wall_time(seconds_ahead: float = 0.0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds_ahead)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_alertmanager(
    payload: dict[str, Any], pack: str | None, generator_url: str = DEFAULT_GENERATOR_URL
) -> dict[str, Any]:
    """An Alertmanager alert (without `endsAt`) for a logscope notification."""
    labels: dict[str, str] = {}
    for name, value in (payload.get("labels") or {}).items():
        if value is not None and str(value) != "":
            labels[label_name(str(name))] = str(value)
    labels["alertname"] = str(payload["rule"])
    labels["severity"] = str(payload.get("severity") or "warning")
    if pack:
        labels["pack"] = pack
    annotations = {"summary": str(payload.get("summary") or "")}
    if payload.get("description"):
        annotations["description"] = str(payload["description"])
    sql = records_query(payload)
    template = generator_url or DEFAULT_GENERATOR_URL
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": payload.get("fired_at") or payload.get("first_at") or payload.get("at"),
        "generatorURL": template.format(sql=quote(sql, safe=""), rule=quote(str(payload["rule"]), safe="")),
    }


class AlertmanagerAction(WebhookAction):
    """Posts alerts to Alertmanager and re-posts the firing ones every `resend` seconds."""

    def __init__(
        self, spec: ActionSpec, on_error: ErrorCallback | None = None, packs: dict[str, str] | None = None
    ) -> None:
        self.packs = packs or {}
        self.firing: dict[Any, dict[str, Any]] = {}  # alert id -> its Alertmanager form
        self.posts = 0  # requests that Alertmanager accepted
        self._lock = threading.Lock()
        self._next_resend = time.monotonic() + spec.resend
        # Every instance of an Alertmanager cluster gets every post (they deduplicate).
        self.endpoints = [api_endpoint(url) for url in (spec.urls or [spec.url])]
        super().__init__(dataclasses.replace(spec, url=self.endpoints[0]), on_error)

    def deliver(self, payload: dict[str, Any]) -> None:
        alert = to_alertmanager(payload, self.packs.get(payload["rule"]), self.spec.generator_url)
        key = payload.get("id")
        with self._lock:
            if payload.get("event") == "resolved" or payload.get("state") == "resolved":
                self.firing.pop(key, None)
                alert["endsAt"] = payload.get("resolved_at") or wall_time()
            else:
                self.firing[key] = alert
                alert = {**alert, "endsAt": self._valid_until()}
        self._post([alert])

    def resend(self) -> None:
        """Post every firing alert again, valid for another VALID_FOR_RESENDS periods."""
        with self._lock:
            until = self._valid_until()
            alerts = [{**alert, "endsAt": until} for alert in self.firing.values()]
        for start in range(0, len(alerts), POST_CHUNK):
            self._post(alerts[start : start + POST_CHUNK])

    def _valid_until(self) -> str:
        return wall_time(VALID_FOR_RESENDS * self.spec.resend)

    def _post(self, alerts: list[dict[str, Any]]) -> None:
        """POST the alerts to every endpoint; one failing does not keep them from the others."""
        problems = []
        for endpoint in self.endpoints:
            self.spec = dataclasses.replace(self.spec, url=endpoint)
            try:
                WebhookAction.deliver(self, alerts)  # type: ignore[arg-type]  # a JSON array
                self.posts += 1
            except RuntimeError as exc:
                problems.append(str(exc))
        if problems:
            raise RuntimeError("; ".join(problems))

    def _run(self) -> None:
        """Deliver queued notifications; when none arrives before the resend is due, re-post."""
        while True:
            if time.monotonic() >= self._next_resend:  # due even while notifications keep coming
                self._next_resend = time.monotonic() + self.spec.resend
                self._attempt(self.resend)
            try:
                payload = self.queue.get(timeout=max(0.0, self._next_resend - time.monotonic()))
            except queue.Empty:
                continue
            if payload is None:
                return
            if self._attempt(lambda: self.deliver(payload)):  # noqa: B023 (called at once)
                self.delivered += 1

    def _attempt(self, action) -> bool:
        try:
            action()
            return True
        except Exception as exc:
            self.failed += 1
            self.on_error(f"{self.name}: {exc}")
            return False
