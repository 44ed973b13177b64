"""PHP writes its error log and PHP-FPM its own; `logscope ingest` must read them as written."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    free_port,
    ingest,
    ingest_all,
    now,
    program,
    running,
    wait_for,
)

FPM_PORT = free_port(47460)
SCRIPT = """<?php
for ($n = 0; $n < 40; $n++) {
    error_log("custom message $n from the app");
    echo $undefined;
    trigger_error("deprecated thing", E_USER_DEPRECATED);
}
function f($x) { throw new RuntimeException("boom"); }
f(1);
"""


def test_php_error_log(tmp_path: Path, db: Path) -> None:
    php = program("php")
    (tmp_path / "app.php").write_text(SCRIPT)
    log = tmp_path / "php_errors.log"
    settings = [
        "-d",
        "log_errors=On",
        "-d",
        f"error_log={log}",
        "-d",
        "error_reporting=E_ALL",
        "-d",
        "display_errors=Off",
        "-d",
        "date.timezone=UTC",
    ]
    start = now()
    subprocess.run([php, *settings, "app.php"], cwd=tmp_path, capture_output=True)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"php_error"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: line.startswith("[")) == 121
    assert_times_from_lines(stored.rows, start, end)
    assert stored.levels == {None: 40, "warning": 40, "notice": 40, "critical": 1}
    fatal = next(row for row in stored.rows if row[3] == "critical")
    assert "\nStack trace:\n#0 " in fatal[4] and fatal[4].endswith("on line 7")


def _fpm_conf(root: Path, children: int) -> str:
    return f"""[global]
pid = {root}/fpm.pid
error_log = {root}/fpm.log
daemonize = no
[www]
listen = 127.0.0.1:{FPM_PORT}
pm = static
pm.max_children = {children}
"""


def test_php_fpm_log(tmp_path: Path, db: Path) -> None:
    fpm = program("php-fpm8.2")
    log = tmp_path / "fpm.log"
    (tmp_path / "good.conf").write_text(_fpm_conf(tmp_path, 1))
    (tmp_path / "bad.conf").write_text(_fpm_conf(tmp_path, 0))
    start = now()
    with running([fpm, "--fpm-config", str(tmp_path / "good.conf"), "-R"], cwd=tmp_path, port=FPM_PORT):
        wait_for(lambda: "ready to handle connections" in log.read_text(), "php-fpm to be ready")
    # A pool with no children: php-fpm refuses to start and says why.
    subprocess.run([fpm, "--fpm-config", str(tmp_path / "bad.conf"), "-R"], cwd=tmp_path, capture_output=True)
    end = now()
    stored = ingest(log, db)
    assert_parsed(stored, {"php_fpm"}, share=1.0)
    assert len(stored.rows) == count_lines(log, lambda line: re.match(r"\[\d\d-", line) is not None)
    assert_times_from_lines(stored.rows, start, end)
    assert stored.levels["error"] == count_lines(log, lambda line: "] ERROR: " in line) >= 1
    assert stored.levels["critical"] == count_lines(log, lambda line: "] ALERT: " in line) == 1


MONOLOG_SCRIPT = """<?php
require_once 'Monolog/autoload.php';
use Monolog\\Logger;
use Monolog\\Handler\\StreamHandler;
use Monolog\\Formatter\\LineFormatter;
use Monolog\\Formatter\\JsonFormatter;

$laravelFormat = new LineFormatter(null, 'Y-m-d H:i:s', true, true);  // as Laravel's LogManager
$laravelFormat->includeStacktraces();
$laravel = (new StreamHandler($argv[2]))->setFormatter($laravelFormat);
$json = (new StreamHandler($argv[3]))->setFormatter(new JsonFormatter());
$loggers = [
    new Logger('app', [new StreamHandler($argv[1])]),  // Monolog's default LineFormatter
    new Logger('local', [$laravel]),
    new Logger('app', [$json]),
];
function charge($order) { throw new RuntimeException("card declined for order $order"); }
foreach ($loggers as $log) {
    for ($n = 0; $n < 30; $n++) {
        $log->info('User logged in', ['user' => 'alice', 'n' => $n]);
        $log->warning('Disk almost full');
        try { charge($n); } catch (Exception $e) { $log->error($e->getMessage(), ['exception' => $e]); }
    }
    $log->emergency('shutting down');
}
"""


def test_monolog_line_and_json(tmp_path: Path, db: Path) -> None:
    php = program("php")
    if not Path("/usr/share/php/Monolog/autoload.php").exists():
        pytest.skip("Monolog is not installed (.ci/run installs php-monolog)")
    (tmp_path / "app.php").write_text(MONOLOG_SCRIPT)
    logs = [tmp_path / "monolog.log", tmp_path / "laravel.log", tmp_path / "monolog.json"]
    start = now()
    subprocess.run([php, "app.php", *map(str, logs)], cwd=tmp_path, check=True, capture_output=True)
    end = now()
    stored = ingest_all(logs, db)
    expected_levels = {"info": 30, "warning": 30, "error": 30, "fatal": 1}
    for log, format_name in zip(logs, ["monolog", "monolog", "monolog_json"], strict=True):
        records = stored[log]
        assert_parsed(records, {format_name}, share=1.0)
        written = count_lines(log, lambda line: line.startswith(("[20", '{"message"')))
        assert len(records.rows) == written == 91
        assert_times_from_lines(records.rows, start, end)
        assert records.levels == expected_levels
    laravel_error = next(row for row in stored[logs[1]].rows if row[3] == "error")
    assert "\n[stacktrace]\n#0 " in laravel_error[4] and json.loads(laravel_error[5])["channel"] == "local"
