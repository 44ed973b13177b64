"""Python programs write their logs; `logscope ingest` must read them as written.

Python's `logging` in six common layouts (tracebacks included), gunicorn, uvicorn, Flask's
development server and `python -m http.server`, each run for real in a temporary directory.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from real_programs import (
    Stored,
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    debian_python_module,
    free_port,
    get_statuses,
    ingest,
    ingest_all,
    now,
    program,
    running,
    wait_for,
)

# Under pytest-xdist (--dist loadgroup) the whole module runs in one worker: one real run of every logging
# layout (a module fixture) serves all its tests.
pytestmark = pytest.mark.xdist_group("python_logging")

GUNICORN_PORT = free_port(47440)
UVICORN_PORT = free_port(47441)
HTTP_SERVER_PORT = free_port(47442)
FLASK_PORT = free_port(47443)

# name -> (layout, format logscope must detect, whether the layout writes a time)
LAYOUTS = {
    "threaded": (
        "%(asctime)s %(levelname)-8s [%(threadName)s] %(name)s:%(lineno)d %(message)s",
        "python_threaded",
        True,
    ),
    "flask": ("[%(asctime)s] %(levelname)s in %(module)s: %(message)s", "flask", True),
    "basic": ("%(levelname)s:%(name)s:%(message)s", "python_basic", False),
    "dashes": ("%(asctime)s - %(name)s - %(levelname)s - %(message)s", "python_logging", True),
    "colon": ("%(asctime)s %(levelname)s %(name)s: %(message)s", "python_logging", True),
    "django": ("{levelname} {asctime} {module} {process:d} {thread:d} {message}", "django_verbose", True),
}
ROUNDS = 30  # each round logs debug, info, warning, an exception with its traceback, error from a thread

LOGGING_SCRIPT = """
import logging, sys, threading
name, layout, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
handler = logging.FileHandler(name + ".log")
handler.setFormatter(logging.Formatter(layout, style="{" if layout.startswith("{") else "%"))
log = logging.getLogger("app." + name)
log.addHandler(handler)
log.setLevel(logging.DEBUG)
for n in range(rounds):
    log.debug("tick %d", n)
    log.info("starting worker pool size=%d", 4)
    log.warning("disk usage at %d%%", 91)
    try:
        {}["missing"]
    except KeyError:
        log.exception("request %d failed", n)
    worker = threading.Thread(target=lambda: log.error("from thread"), name="Worker-1")
    worker.start()
    worker.join()
log.critical("shutting down")
"""


@dataclass
class LoggingRun:
    stored: dict[str, Stored]
    start: dt.datetime
    end: dt.datetime


@pytest.fixture(scope="module")
def python_logging(tmp_path_factory: pytest.TempPathFactory) -> LoggingRun:
    """Each layout written by a real Python process, all logs ingested in one run."""
    root = tmp_path_factory.mktemp("python-logging")
    script = root / "emit.py"
    script.write_text(LOGGING_SCRIPT)
    start = now()
    for name, (layout, _, _) in LAYOUTS.items():
        argv = [sys.executable, str(script), name, layout, str(ROUNDS)]
        subprocess.run(argv, cwd=root, check=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    end = now()
    logs = {name: root / f"{name}.log" for name in LAYOUTS}
    stored = ingest_all(list(logs.values()), root / "logs.duckdb")
    return LoggingRun({name: stored[log] for name, log in logs.items()}, start, end)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.slow
def test_python_logging_layouts(name: str, python_logging: LoggingRun) -> None:
    _, expected_format, has_time = LAYOUTS[name]
    stored = python_logging.stored[name]
    assert_parsed(stored, {expected_format}, share=1.0)
    assert len(stored.rows) == 5 * ROUNDS + 1  # each traceback joined to its record
    expected_levels = {"debug": ROUNDS, "info": ROUNDS, "warning": ROUNDS, "error": 2 * ROUNDS, "critical": 1}
    assert stored.levels == expected_levels
    failed = next(row for row in stored.rows if "request 0 failed" in row[4])
    assert "\nTraceback (most recent call last):\n" in failed[4]
    assert failed[4].rstrip().endswith("KeyError: 'missing'")
    if has_time:
        assert_times_from_lines(stored.rows, python_logging.start, python_logging.end)


def _wsgi_app(root: Path) -> None:
    (root / "webapp.py").write_text(
        "def app(environ, start_response):\n"
        "    if environ['PATH_INFO'] == '/boom':\n"
        "        raise RuntimeError('boom')\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'hello']\n"
        "async def asgi(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    if scope['path'] == '/boom':\n"
        "        raise RuntimeError('boom')\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'hi'})\n"
    )


@pytest.mark.slow
def test_gunicorn_error_and_access_logs(tmp_path: Path, db: Path) -> None:
    gunicorn = program("gunicorn")
    _wsgi_app(tmp_path)
    start = now()
    argv = [
        gunicorn,
        "--bind",
        f"127.0.0.1:{GUNICORN_PORT}",
        "--workers",
        "1",
        "--access-logfile",
        "access.log",
        "--error-logfile",
        "error.log",
        "webapp:app",
    ]
    with running(argv, cwd=tmp_path, port=GUNICORN_PORT):
        statuses = get_statuses(GUNICORN_PORT, ["/"] * 40 + ["/boom"] * 5)
        assert statuses.count(500) == 5
    end = now()
    errors = ingest(tmp_path / "error.log", db)
    assert_parsed(errors, {"gunicorn"}, share=1.0)
    log = tmp_path / "error.log"
    assert len(errors.rows) == count_lines(log, lambda line: re.match(r"\[\d{4}-", line) is not None)
    assert_times_from_lines(errors.rows, start, end)
    assert errors.levels["error"] == count_lines(log, lambda line: "] [ERROR] " in line) == 5
    assert all(row[4].rstrip().endswith("RuntimeError: boom") for row in errors.rows if row[3] == "error")
    access = ingest(tmp_path / "access.log", db)
    assert_parsed(access, {"nginx_access"}, share=1.0)
    assert len(access.rows) == 45
    assert_times_from_lines(access.rows, start, end)
    assert access.levels == {"info": 40, "error": 5}


@pytest.mark.slow
def test_uvicorn_console_log(tmp_path: Path, db: Path) -> None:
    python = debian_python_module("uvicorn")
    _wsgi_app(tmp_path)
    argv = [python, "-m", "uvicorn", "--port", str(UVICORN_PORT), "webapp:asgi"]
    with running(argv, cwd=tmp_path, log_name="uvicorn.log", stop_signal=signal.SIGINT, port=UVICORN_PORT):
        statuses = get_statuses(UVICORN_PORT, ["/"] * 40 + ["/boom"] * 5)
        assert statuses.count(500) == 5
    log = tmp_path / "uvicorn.log"
    stored = ingest(log, db)
    assert_parsed(stored, {"uvicorn"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: re.match(r"[A-Z]+:\s", line) is not None)
    assert stored.levels["error"] == count_lines(log, lambda line: line.startswith("ERROR:")) == 5
    requests = [row for row in stored.rows if row[5] and '"status":' in row[5]]
    assert len(requests) == 45  # uvicorn writes no time: records keep the time they were read


@pytest.mark.slow
def test_http_server_request_log(tmp_path: Path, db: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hi\n")
    start = now()
    argv = [
        sys.executable,
        "-u",
        "-m",
        "http.server",
        str(HTTP_SERVER_PORT),
        "--bind",
        "127.0.0.1",
        "--directory",
        str(tmp_path / "www"),
    ]
    with running(argv, cwd=tmp_path, log_name="http.log", port=HTTP_SERVER_PORT):
        statuses = get_statuses(HTTP_SERVER_PORT, ["/"] * 90 + ["/nope"] * 10)
        assert statuses.count(404) == 10
    end = now()
    log = tmp_path / "http.log"
    stored = ingest(log, db)
    assert_parsed(stored, {"python_http_server"})  # all but the `Serving HTTP on …` banner
    served = stored.of("python_http_server")
    assert len(served) == count_lines(log, lambda line: line.startswith("127.0.0.1 - - [")) == 110
    assert_times_from_lines(served, start, end)
    assert stored.levels["warning"] == 10  # the 404 request lines; `code 404, message …` lines are info


@pytest.mark.slow
def test_flask_development_server(tmp_path: Path, db: Path) -> None:
    python = debian_python_module("flask")
    (tmp_path / "app.py").write_text(
        "from flask import Flask\n"
        "app = Flask(__name__)\n"
        "@app.route('/')\n"
        "def index():\n"
        "    app.logger.warning('order %d is slow', 17)\n"
        "    return 'ok'\n"
        "@app.route('/fail')\n"
        "def fail():\n"
        "    raise RuntimeError('boom')\n"
    )
    start = now()
    argv = [python, "-m", "flask", "--app", "app", "run", "--port", str(FLASK_PORT)]
    with running(argv, cwd=tmp_path, log_name="flask.log", port=FLASK_PORT):
        statuses = get_statuses(FLASK_PORT, ["/"] * 300 + ["/fail"] * 5)
        assert statuses.count(500) == 5
    end = now()
    log = tmp_path / "flask.log"
    stored = ingest(log, db)
    # The start-up banner (` * Serving Flask app`, `Press CTRL+C to quit`...) is not a log record.
    assert_parsed(stored, {"flask", "python_http_server"})
    app_records = stored.of("flask")
    assert len(app_records) == count_lines(log, lambda line: re.match(r"\[\d{4}-", line) is not None) == 305
    assert len(stored.of("python_http_server")) == 305
    assert_times_from_lines(app_records + stored.of("python_http_server"), start, end)
    assert sum(row[3] == "error" and "RuntimeError: boom" in row[4] for row in app_records) == 5


DJANGO_PORT = free_port(47444)
UWSGI_PORT = free_port(47445)


@pytest.mark.slow
def test_django_runserver(tmp_path: Path, db: Path) -> None:
    python = debian_python_module("django")
    (tmp_path / "settings.py").write_text(
        'SECRET_KEY = "test"\nDEBUG = True\nTIME_ZONE = "UTC"\nALLOWED_HOSTS = ["127.0.0.1"]\n'
        'ROOT_URLCONF = "urls"\nINSTALLED_APPS = []\n'
    )
    (tmp_path / "urls.py").write_text(
        "from django.http import HttpResponse\nfrom django.urls import path\n"
        "def ok(request):\n    return HttpResponse('ok')\n"
        "def boom(request):\n    raise RuntimeError('boom')\n"
        "urlpatterns = [path('', ok), path('boom', boom)]\n"
    )
    start = now()
    argv = [
        python,
        "-m",
        "django",
        "runserver",
        f"127.0.0.1:{DJANGO_PORT}",
        "--noreload",
        "--settings=settings",
        f"--pythonpath={tmp_path}",
    ]
    with running(argv, cwd=tmp_path, log_name="runserver.log", port=DJANGO_PORT):
        paths = ["/"] * 60 + ["/boom"] * 5 + ["/missing"] * 5
        statuses = get_statuses(DJANGO_PORT, paths)
        assert (statuses.count(500), statuses.count(404)) == (5, 5)
        # runserver writes a request's line after answering it: wait for the last one
        log = tmp_path / "runserver.log"
        wait_for(lambda: count_lines(log, lambda line: line.startswith("[")) >= 70, "70 request lines")
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"django_runserver"}, share=1.0)
    requests = [row for row in stored.rows if row[6].startswith("[")]
    assert len(requests) == count_lines(log, lambda line: line.startswith("[")) == 70
    assert_times_from_lines(requests, start, end)
    assert Counter(row[3] for row in requests) == {"info": 60, "error": 5, "warning": 5}
    failures = [row for row in stored.rows if row[4].startswith("Internal Server Error: /boom")]
    assert len(failures) == 5 and all(row[4].rstrip().endswith("RuntimeError: boom") for row in failures)
    assert sum(row[4] == "Not Found: /missing" and row[3] == "warning" for row in stored.rows) == 5


@pytest.mark.slow
def test_uwsgi_with_log_date(tmp_path: Path, db: Path) -> None:
    uwsgi = program("uwsgi")
    if not Path("/usr/lib/uwsgi/plugins/python3_plugin.so").exists():
        pytest.skip("uWSGI's python3 plugin is not installed (.ci/run installs uwsgi-plugin-python3)")
    _wsgi_app(tmp_path)
    log = tmp_path / "uwsgi.log"
    start = now()
    argv = [
        uwsgi,
        "--plugin",
        "python3",
        "--http-socket",
        f"127.0.0.1:{UWSGI_PORT}",
        "--wsgi-file",
        "webapp.py",
        "--callable",
        "app",
        "--master",
        "--processes",
        "1",
        "--log-date",
        "--logto",
        str(log),
    ]
    with running(argv, cwd=tmp_path, stop_signal=signal.SIGINT, port=UWSGI_PORT):
        statuses = get_statuses(UWSGI_PORT, ["/"] * 50 + ["/boom"] * 5)
        assert statuses.count(200) == 50
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"uwsgi", "uwsgi_request"}, share=1.0)
    lines = log.read_text().splitlines()
    assert len(stored.of("uwsgi")) == sum(
        re.match(r"[A-Z][a-z]{2} [A-Z][a-z]{2} ", line) is not None for line in lines
    )
    requests = stored.of("uwsgi_request")
    assert len(requests) == sum(line.startswith("[pid: ") for line in lines) >= 55
    assert_times_from_lines(stored.rows, start, end)
    assert (
        Counter(row[3] for row in requests)["error"] == sum("(HTTP/1.1 500)" in line for line in lines) == 5
    )
    assert sum("RuntimeError: boom" in row[4] for row in stored.rows) == 5  # tracebacks joined


CELERY_TASKS = """import os
from celery import Celery
here = os.path.dirname(os.path.abspath(__file__))
app = Celery("tasks", broker="filesystem://")
queue = os.path.join(here, "queue")
folders = ("data_folder_in", "data_folder_out", "processed_folder")
app.conf.broker_transport_options = dict.fromkeys(folders, queue)
@app.task
def add(x, y):
    return x + y
@app.task
def boom():
    raise RuntimeError("boom")
"""
TASKS = 500


@pytest.mark.slow
def test_celery_worker(tmp_path: Path, db: Path) -> None:
    python = debian_python_module("celery")
    (tmp_path / "queue").mkdir()
    (tmp_path / "tasks.py").write_text(CELERY_TASKS)
    send = (
        f"from tasks import add, boom\nfor n in range({TASKS}):\n    add.delay(n, 1)\n"
        "for n in range(3):\n    boom.delay()\n"
    )
    subprocess.run(
        [python, "-c", send], cwd=tmp_path, check=True, env={"TZ": "UTC", "PYTHONPATH": str(tmp_path)}
    )
    log = tmp_path / "worker.log"
    start = now()
    argv = [
        python,
        "-m",
        "celery",
        "-A",
        "tasks",
        "--quiet",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]
    with running(argv, cwd=tmp_path, log_name="worker.log"):
        done = f"{TASKS + 3} tasks"
        wait_for(
            lambda: (
                log.read_text().count("] received") >= TASKS + 3
                and log.read_text().count("raised unexpected") == 3
            ),
            done,
        )
    end = now()
    stored = ingest(log, db)
    # All but Python's SecurityWarning (when the worker runs as root) and `worker: Warm shutdown`.
    assert_parsed(stored, {"celery"}, ignore_blank=True)
    records = stored.of("celery")
    assert len(records) == count_lines(log, lambda line: re.match(r"\[\d{4}-", line) is not None)
    assert_times_from_lines(records, start, end)
    assert sum(row[3] == "error" for row in records) == count_lines(log, lambda line: ": ERROR/" in line) == 3
    assert all(row[4].count("RuntimeError: boom") == 1 for row in records if row[3] == "error")
    succeeded = [row for row in records if " succeeded in " in row[4]]
    assert len(succeeded) == TASKS and all('"task":"tasks.add"' in row[5] for row in succeeded)
