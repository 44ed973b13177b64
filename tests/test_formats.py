"""The format library through the real CLI: check, list, show, detect, user formats, typed views."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_clean_error, cli_env, query_db, run_cli

REQUIRED = {
    "json",
    "logfmt",
    "syslog",
    "syslog5424",
    "nginx_access",
    "access_common",
    "nginx_error",
    "apache_error",
    "python_basic",
    "python_logging",
    "log4j",
    "logback",
    "glog",
    "cri",
    "postgresql",
    "haproxy_http",
    "hdfs",
    "spark",
    "zookeeper",
    "openssh",
    "bsd_syslog",
    "android_logcat",
    "bgl",
    "hpc",
    "openstack",
    "proxifier",
    "thunderbird",
    "windows_cbs",
    "healthapp",
}

CUSTOM = """
[[format]]
name = "{name}"
title = "My app"
patterns = [
  '''^(?P<time>[0-9-]{{10}} [0-9:]{{8}}) (?P<level>\\w+) took=(?P<took>\\d+)ms (?P<message>.*)$''',
]
time = {{ field = "time", formats = ["%Y-%m-%d %H:%M:%S"] }}
level = {{ field = "level" }}
message = "message"
types = {{ took = "int" }}
priority = 99

[[format.samples]]
line = "2026-11-26 02:00:00 INFO took=15ms done"
ts = "2026-11-26T02:00:00Z"
level = "info"
message = "done"
fields = {{ took = 15 }}
"""


def write_format(folder: Path, name: str = "myapp", text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text if text is not None else CUSTOM.format(name=name))
    return path


def test_formats_check_passes_on_every_builtin_definition() -> None:
    result = run_cli("formats", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
    assert " 0 problems" in result.stdout


def test_formats_list_has_the_required_formats() -> None:
    result = run_cli("formats", "list", "--output", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["name"] for row in rows} >= REQUIRED
    priorities = [row["priority"] for row in rows]
    assert priorities == sorted(priorities, reverse=True)  # listed in the order detection tries them


def test_formats_show() -> None:
    result = run_cli("formats", "show", "nginx_access")
    assert result.returncode == 0, result.stderr
    assert "parsers/web.toml" in result.stdout
    assert "status" in result.stdout and "BIGINT" in result.stdout
    missing = run_cli("formats", "show", "no_such_format")
    assert_clean_error(missing)
    assert "no_such_format" in missing.stderr


def test_check_rejects_unknown_keys_naming_file_and_field(tmp_path: Path) -> None:
    bad = CUSTOM.format(name="myapp").replace('title = "My app"', 'title = "My app"\ncolour = "red"')
    path = write_format(tmp_path / "formats", text=bad)
    result = run_cli("formats", "check", str(tmp_path / "formats"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr and "'colour'" in result.stderr and "unknown key" in result.stderr


def test_check_reports_a_sample_that_does_not_match(tmp_path: Path) -> None:
    wrong = CUSTOM.format(name="myapp").replace("fields = { took = 15 }", 'fields = { took = "15" }')
    path = write_format(tmp_path / "formats", text=wrong)
    result = run_cli("formats", "check", str(tmp_path / "formats"))
    assert result.returncode == 1
    assert f"{path}: format 'myapp': field 'samples[1].fields.took'" in result.stderr


def test_level_derived_from_a_kept_field_with_prefix_keys(tmp_path: Path) -> None:
    text = CUSTOM.format(name="myapp").replace(
        'level = {{ field = "level" }}'.replace("{{", "{").replace("}}", "}"),
        'level = { field = "took", keep = true, map = { "9*" = "warning", "99*" = "error" } }',
    )
    text = text.replace('level = "info"', 'level = "error"').replace("took=15ms", "took=995ms")
    text = text.replace("fields = { took = 15 }", "fields = { took = 995, level = 'INFO' }")
    write_format(tmp_path / "formats", text=text)
    result = run_cli("formats", "check", str(tmp_path / "formats"))
    assert result.returncode == 0, result.stderr  # the longest prefix wins; the field is kept
    unkept = text.replace("keep = true, ", "keep = 1, ")
    write_format(tmp_path / "bad", text=unkept)
    result = run_cli("formats", "check", str(tmp_path / "bad"))
    assert result.returncode == 1 and "field 'level.keep': must be true or false" in result.stderr


def test_check_reports_bad_regex_and_time_format(tmp_path: Path) -> None:
    text = CUSTOM.format(name="myapp").replace("(?P<message>.*)$", "(?P<message>.*$")
    write_format(tmp_path / "a", text=text)
    result = run_cli("formats", "check", str(tmp_path / "a"))
    assert result.returncode == 1 and "'patterns[1]'" in result.stderr
    text = CUSTOM.format(name="myapp").replace('"%Y-%m-%d %H:%M:%S"', '"%Y-%m-%d %H:%M:%Q"')
    write_format(tmp_path / "b", text=text)
    result = run_cli("formats", "check", str(tmp_path / "b"))
    assert result.returncode == 1 and "'time.formats'" in result.stderr and "%Q" in result.stderr


def test_broken_user_format_is_a_clean_error_for_parsing_verbs(tmp_path: Path) -> None:
    text = CUSTOM.format(name="myapp").replace('types = { took = "int" }', 'types = { took = "integer" }')
    write_format(tmp_path / "formats", text=text)
    log = tmp_path / "a.log"
    log.write_text("x\n")
    result = run_cli("parse", str(log), "--formats", str(tmp_path / "formats"))
    assert_clean_error(result, 2)
    assert "'types.took'" in result.stderr


def test_formats_dir_adds_a_format(tmp_path: Path) -> None:
    write_format(tmp_path / "formats")
    log = tmp_path / "app.log"
    log.write_text("2026-11-26 02:00:00 INFO took=15ms done\n")
    result = run_cli("parse", str(log), "--tz", "UTC", "--formats", str(tmp_path / "formats"))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["format"] == "myapp"
    assert record["fields"] == {"took": 15}


def test_user_format_in_xdg_config_overrides_a_builtin(tmp_path: Path) -> None:
    config = tmp_path / "config"
    override = CUSTOM.format(name="nginx_access")
    write_format(config / "logscope" / "formats", name="nginx_access", text=override)
    env = cli_env(XDG_CONFIG_HOME=str(config))
    show = run_cli("formats", "show", "nginx_access", env=env)
    assert show.returncode == 0 and "My app" in show.stdout
    log = tmp_path / "app.log"
    log.write_text("2026-11-26 02:00:00 INFO took=15ms done\n")
    result = run_cli("parse", str(log), "--tz", "UTC", env=env)
    assert json.loads(result.stdout)["format"] == "nginx_access"
    assert run_cli("formats", "check", env=env).returncode == 0


MIXED = [
    '127.0.0.1 - - [26/Nov/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"',
    '{"level":"error","msg":"db down","ts":1764122400.5}',
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    "this line is in no format at all",
    "2026/11/26 02:00:01 [error] 31#31: *7 upstream timed out",
    '127.0.0.1 - - [26/Nov/2026:02:00:02 +0000] "GET /x HTTP/1.1" 404 0 "-" "curl/8.5.0"',
    "level=warn msg=slow took=3s",
]


def test_detection_on_a_mixed_file(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(MIXED) + "\n")
    result = run_cli("parse", str(log), "--tz", "UTC")
    assert result.returncode == 0, result.stderr
    formats = [json.loads(line)["format"] for line in result.stdout.splitlines()]
    assert formats == ["nginx_access", "json", "syslog", "raw", "nginx_error", "nginx_access", "logfmt"]
    detect = run_cli("formats", "detect", str(log), "--output", "jsonl")
    assert detect.returncode == 0, detect.stderr
    rows = [json.loads(line) for line in detect.stdout.splitlines()]
    assert rows[0] == {"format": "nginx_access", "lines": 2, "share": "28.6%"}
    assert {"json", "syslog", "nginx_error", "logfmt"} <= {row["format"] for row in rows}
    assert "mixed.log: nginx_access (28.6% of 7 lines)" in detect.stderr


def test_forced_format_keeps_other_lines_raw(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(MIXED) + "\n")
    result = run_cli("parse", str(log), "--format", "nginx_access")
    formats = [json.loads(line)["format"] for line in result.stdout.splitlines()]
    assert formats == ["nginx_access", "raw", "raw", "raw", "raw", "nginx_access", "raw"]


def test_typed_view_per_format(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        "\n".join(
            f'10.0.0.{n} - - [26/Nov/2026:02:00:{n:02d} +0000] "GET /p{n} HTTP/1.1" {status} {size} "-" "x"'
            for n, (status, size) in enumerate([(200, 10), (200, 20), (404, "-"), (500, 5)])
        )
        + "\nnot an access line\n"
    )
    assert run_cli("ingest", "--db", str(db), str(log)).returncode == 0
    result = run_cli(
        "query",
        "--db",
        str(db),
        "SELECT status, count(*) AS n, sum(bytes) AS b FROM nginx_access GROUP BY 1 ORDER BY 1",
        "--format",
        "jsonl",
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {"status": 200, "n": 2, "b": 30},
        {"status": 404, "n": 1, "b": None},
        {"status": 500, "n": 1, "b": 5},
    ]
    types = dict(
        query_db(
            db,
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'nginx_access'",
        )
    )
    assert types["status"] == "BIGINT" and types["path"] == "VARCHAR" and types["ts"].startswith("TIMESTAMP")
    assert query_db(db, "SELECT count(*) FROM raw") == [(1,)]


@pytest.mark.slow
def test_views_are_recreated_when_the_database_is_opened(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text('1.2.3.4 - - [26/Nov/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n')
    assert run_cli("ingest", "--db", str(db), str(log)).returncode == 0
    import duckdb

    con = duckdb.connect(str(db))
    con.execute("DROP VIEW nginx_access")
    con.close()
    other = tmp_path / "app.log"
    other.write_text("level=info msg=hello\n")
    assert run_cli("ingest", "--db", str(db), str(other)).returncode == 0
    assert query_db(db, "SELECT status FROM nginx_access") == [(200,)]
    assert query_db(db, "SELECT message FROM logfmt") == [("hello",)]
