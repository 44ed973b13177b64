"""The `alertmanager` action against Debian's real prometheus-alertmanager: a rule firing in
`logscope ingest --follow`, its re-posts and its resolution, checked through Alertmanager's API
and the webhook Alertmanager notifies."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import cli_env, run_cli
from ports import worker_port
from prom_helpers import WebhookSink, get_json, needs_alertmanager, start_alertmanager, wait_for

from logscope.alerting.alertmanager import api_endpoint, label_name, to_alertmanager
from logscope.alerting.loader import load_paths

AM_PORT = worker_port(47710)
SINK_PORT = worker_port(47711)
SECOND_PORT = worker_port(47712)  # a second Alertmanager instance of the "cluster"

RULES = """
[actions.am]
type = "alertmanager"
url = {urls}
resend = "1s"

[[rule]]
name = "payment_failed"
kind = "match"
description = "A payment could not be taken."
severity = "critical"
labels = {{ team = "pay" }}
where = "message LIKE '%payment failed%'"
group_by = ["source"]
window = "5s"
summary = "{{count}} failed payments in {{source}}"
actions = ["am"]
"""


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def alertmanager(tmp_path: Path):
    sink = WebhookSink(SINK_PORT)
    program = start_alertmanager(tmp_path, AM_PORT, sink.url)
    yield sink
    program.stop()
    sink.close()


def am_alerts(name: str) -> list[dict]:
    alerts = get_json(f"http://127.0.0.1:{AM_PORT}/api/v2/alerts")
    return [alert for alert in alerts if alert["labels"].get("alertname") == name]


@needs_alertmanager
@pytest.mark.slow
def test_a_firing_alert_is_reposted_then_resolved_in_alertmanager(tmp_path: Path, alertmanager) -> None:
    second = WebhookSink(SECOND_PORT)  # stands for another instance: it keeps what is POSTed
    rules = tmp_path / "pay.toml"
    rules.write_text(RULES.format(urls=f'["http://127.0.0.1:{AM_PORT}", "http://127.0.0.1:{SECOND_PORT}"]'))
    log = tmp_path / "app.log"
    log.write_text("")
    db = tmp_path / "db.duckdb"
    command = [
        "ingest",
        "--follow",
        str(log),
        "--db",
        str(db),
        "-q",
        "--no-default-rules",
        "--rules",
        str(rules),
    ]
    ingest = subprocess.Popen(
        [sys.executable, "-m", "logscope", *command],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)
        with log.open("a") as handle:
            handle.write("checkout: payment failed for order 17\n")
        found = wait_for(lambda: am_alerts("payment_failed"), 20)
        assert found, "the alert never reached Alertmanager"
        alert = found[0]
        assert alert["labels"] == {
            "alertname": "payment_failed",
            "severity": "critical",
            "pack": "pay",
            "team": "pay",
            "source": str(log),
        }
        assert alert["annotations"] == {
            "summary": f"1 failed payments in {log}",
            "description": "A payment could not be taken.",
        }
        assert alert["status"]["state"] == "active"
        assert alert["generatorURL"].startswith("logscope://query?sql=")
        sql = unquote(alert["generatorURL"].split("sql=", 1)[1])
        assert sql.startswith("FROM logs WHERE id IN (") and sql.endswith(") ORDER BY ts")
        first_end = parse_time(alert["endsAt"])
        assert first_end > parse_time(alert["startsAt"])

        # Re-posted every second while firing: Alertmanager sees endsAt move on.
        later = wait_for(
            lambda: [a for a in am_alerts("payment_failed") if parse_time(a["endsAt"]) > first_end], 5
        )
        assert later, "the firing alert was not re-posted"

        # No match for the 5 s window: resolved, which Alertmanager passes on as resolved.
        resolved = wait_for(
            lambda: [body for body in alertmanager.bodies if body["status"] == "resolved"],
            20,
        )
        assert resolved, f"no resolved notification from Alertmanager: {alertmanager.bodies}"
        assert resolved[0]["alerts"][0]["labels"]["alertname"] == "payment_failed"
        assert any(body["status"] == "firing" for body in alertmanager.bodies)
        now = datetime.now(UTC)
        still_firing = [a for a in am_alerts("payment_failed") if parse_time(a["endsAt"]) > now]
        assert still_firing == []
        # The stored record is the one the generatorURL's query shows.
        ingest.send_signal(2)
        _, stderr = ingest.communicate(timeout=30)
        assert b"Traceback" not in stderr, stderr
        # The other instance got the same posts: the firing alert, its re-posts, its resolution.
        posted = [alert for body in second.bodies for alert in body]
        assert all(alert["labels"]["alertname"] == "payment_failed" for alert in posted)
        assert len(posted) >= 3
        assert parse_time(posted[-1]["endsAt"]) <= datetime.now(UTC)
        shown = run_cli(
            "query", "--db", str(db), "--format", "csv", sql.replace("FROM logs", "SELECT message FROM logs")
        )
        assert "payment failed for order 17" in shown.stdout, shown
    finally:
        second.close()
        if ingest.poll() is None:
            ingest.kill()
            ingest.communicate()


@needs_alertmanager
@pytest.mark.slow
def test_an_unreachable_alertmanager_is_reported_and_does_not_stop_ingest(tmp_path: Path) -> None:
    rules = tmp_path / "pay.toml"
    rules.write_text(
        RULES.format(urls=f'"http://127.0.0.1:{AM_PORT + 9}"').replace(
            'resend = "1s"', 'resend = "1s"\nretries = 0'
        )
    )
    result = run_cli(
        "ingest",
        "--db",
        str(tmp_path / "db.duckdb"),
        "--no-default-rules",
        "--rules",
        str(rules),
        "-",
        input="checkout: payment failed for order 1\n",
    )
    assert result.returncode == 0, result.stderr
    assert f"action 'am': POST http://127.0.0.1:{AM_PORT + 9}/api/v2/alerts failed" in result.stderr


def test_rule_files_check_alertmanager_actions(tmp_path: Path) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text(
        '[actions.am]\ntype = "alertmanager"\nurl = "http://127.0.0.1:9093"\nresend = "soon"\ncommand = "x"\n'
    )
    problems = [str(problem) for problem in load_paths([str(rules)]).problems]
    assert any("actions.am.command" in problem and "alertmanager action" in problem for problem in problems)
    assert any("'resend'" in problem and "duration" in problem for problem in problems)


def test_the_alertmanager_form_of_a_notification() -> None:
    payload = {
        "rule": "web_5xx_burst",
        "severity": "error",
        "labels": {"team": "web", "fields->>'x'": "1", "source": None, "9lives": 3},
        "summary": "20 HTTP 5xx",
        "description": "",
        "fired_at": "2026-01-01T00:00:05Z",
        "first_at": "2026-01-01T00:00:00Z",
        "example_ids": [4, 7],
    }
    alert = to_alertmanager(payload, "web", "https://grafana.example/explore?q={sql}&r={rule}")
    assert alert["labels"] == {
        "team": "web",
        "fields____x_": "1",
        "_9lives": "3",
        "alertname": "web_5xx_burst",
        "severity": "error",
        "pack": "web",
    }
    assert alert["annotations"] == {"summary": "20 HTTP 5xx"}
    assert alert["startsAt"] == "2026-01-01T00:00:05Z"
    assert alert["generatorURL"] == (
        "https://grafana.example/explore?q=FROM%20logs%20WHERE%20id%20IN%20%284%2C%207%29%20ORDER%20BY%20ts"
        "&r=web_5xx_burst"
    )
    assert api_endpoint("http://am:9093/") == "http://am:9093/api/v2/alerts"
    assert api_endpoint("http://am:9093/prefix/api/v2/alerts") == "http://am:9093/prefix/api/v2/alerts"
    assert label_name("http.status") == "http_status"
