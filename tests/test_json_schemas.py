"""JSON log schemas as data (parsers/json_schemas.toml): detection per file, nested and dotted keys,
epoch units, numeric levels, a schema a user adds in TOML, clear errors for bad ones, and the
same rows through bulk import. Lines are the schemas' samples: real output (see the TOML)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_clean_error, query_db, run_cli
from test_bulk_identity import assert_identical

from logscope.parsing.jsonschemas import JsonSchema
from logscope.parsing.loader import builtin_files, definitions_in

SCHEMAS = [d for d in definitions_in(builtin_files()) if isinstance(d, JsonSchema)]


def test_the_table_covers_the_common_json_loggers() -> None:
    names = {schema.name for schema in SCHEMAS}
    expected = {"journald", "bunyan", "pino", "structlog", "loguru", "mongodb", "nextcloud", "serilog_clef"}
    assert expected | {"ecs", "cloudflare_logpush", "docker_json", "zap"} <= names


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
@pytest.mark.slow
def test_each_schema_is_detected_for_a_file_of_its_lines(schema: JsonSchema, tmp_path: Path) -> None:
    lines = [line for sample in schema.samples for line in sample.lines] * 20
    log = tmp_path / f"{schema.name}.jsonl"
    log.write_text("\n".join(lines) + "\n")
    detect = run_cli("formats", "detect", str(log), "--output", "jsonl")
    assert detect.returncode == 0, detect.stderr
    assert json.loads(detect.stdout.splitlines()[0])["format"] == schema.name
    db = tmp_path / "s.duckdb"
    result = run_cli("ingest", "--db", str(db), str(log))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT format, ts = received_at FROM logs")
    assert len(rows) == len(lines)
    assert all(fmt == schema.name for fmt, _ in rows)
    if "ts" in schema.samples[0].expect:
        assert not any(untimed for _, untimed in rows)  # every time from the line


@pytest.mark.slow
def test_journald_keys_become_the_record(tmp_path: Path) -> None:
    (journald,) = [s for s in SCHEMAS if s.name == "journald"]
    log = tmp_path / "journal.json"
    log.write_text("\n".join(sample.lines[0] for sample in journald.samples) + "\n")
    db = tmp_path / "j.duckdb"
    assert run_cli("ingest", "--db", str(db), str(log)).returncode == 0
    rows = query_db(
        db,
        "SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%f'), level, host, message, fields->>'SYSLOG_IDENTIFIER',"
        " json_exists(fields, '$.MESSAGE'), json_exists(fields, '$.__REALTIME_TIMESTAMP')"
        " FROM logs ORDER BY id",
    )
    assert rows[0] == (
        "2026-12-07T00:40:33.448292",
        "warning",
        "vm",
        "hello from logscope test",
        "logscope-sample",
        False,
        False,
    )
    assert rows[1][1:3] == ("error", "vm")
    assert_identical(log, tmp_path)


def test_nested_keys_are_taken_out_of_fields(tmp_path: Path) -> None:
    (mongodb,) = [s for s in SCHEMAS if s.name == "mongodb"]
    result = run_cli("parse", "--tz", "UTC", input=mongodb.samples[0].lines[0] + "\n")
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["format"] == "mongodb" and record["level"] == "info"
    assert "t" not in record["fields"] and "s" not in record["fields"]
    assert record["fields"]["attr"] == {"address": "127.0.0.1"}


USER_SCHEMA = """
[[json_schema]]
name = "shop"
title = "Our shop's JSON log"
required = ["meta.when", "sev"]
time = { key = "meta.when", unit = "ns" }
level = { key = "sev", map = { "1" = "info", "2" = "warning", "3" = "error" } }
message = ["text", "event"]
host = "meta.node"

[[json_schema.samples]]
line = '{"meta": {"when": "1796604033448292123", "node": "web-2"}, "sev": 3, "event": "checkout failed",\
 "cart": 7}'
ts = "2026-12-07T00:40:33.448292Z"
level = "error"
message = "checkout failed"
host = "web-2"
fields = { cart = 7 }
"""


def test_a_user_adds_a_schema_in_toml(tmp_path: Path) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    (folder / "shop.toml").write_text(USER_SCHEMA)
    check = run_cli("formats", "check", str(folder))
    assert check.returncode == 0, check.stderr
    line = '{"meta": {"when": "1796604033448292123", "node": "web-2"}, "sev": 2, "text": "slow", "cart": 1}'
    result = run_cli("parse", "--tz", "UTC", "--formats", str(folder), input=line + "\n")
    (record,) = [json.loads(out) for out in result.stdout.splitlines()]
    assert (record["format"], record["level"], record["message"], record["host"]) == (
        "shop",
        "warning",
        "slow",
        "web-2",
    )
    assert record["fields"] == {"cart": 1}  # `meta` emptied, so removed
    show = run_cli("formats", "show", "shop", "--formats", str(folder))
    assert "JSON schema" in show.stdout and "meta.when" in show.stdout


def test_bad_schemas_are_one_line_errors(tmp_path: Path) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    for bad, field in (
        (USER_SCHEMA.replace('unit = "ns"', 'unit = "fortnights"'), "time.unit"),
        (USER_SCHEMA.replace('"3" = "error"', '"3" = "bad"'), "level.map.3"),
        (USER_SCHEMA.replace('required = ["meta.when", "sev"]', "required = []"), "required"),
        (USER_SCHEMA.replace('host = "meta.node"', 'hots = "meta.node"'), "hots"),
    ):
        (folder / "shop.toml").write_text(bad)
        result = run_cli("formats", "check", str(folder))
        assert_clean_error(result, 1)
        assert f"shop.toml: json_schema 'shop': field '{field}'" in result.stderr, result.stderr


def test_logrus_go_time_in_plain_json() -> None:
    """logrus JSONFormatter with Go's default time layout (logrus README's example line)."""
    line = (
        '{"animal":"walrus","level":"info","msg":"A giant walrus appears!","size":10,'
        '"time":"2014-03-10 19:57:38.562500591 -0400 EDT"}'
    )
    result = run_cli("parse", "--tz", "UTC", input=line + "\n")
    (record,) = [json.loads(out) for out in result.stdout.splitlines()]
    assert record["format"] == "json"
    assert record["ts"] == "2014-03-10T23:57:38.562Z"  # RFC 3339 with milliseconds, as every output


def test_gcp_needs_a_cloud_logging_key_and_reads_protobuf_timestamps() -> None:
    """`severity` alone stays plain `json` (which reads `msg` and `ts`); a Cloud Logging key makes it GCP."""
    plain = '{"ts":1763632800123,"severity":"Error","msg":"epoch ms"}'
    gcp = (
        '{"timestamp":{"seconds":1796626231,"nanos":956000089},"severity":"NOTICE",'
        '"logging.googleapis.com/insertId":"x1","message":{"message":"order placed","order_id":17}}'
    )
    result = run_cli("parse", "--tz", "UTC", input=f"{plain}\n{gcp}\n")
    first, second = [json.loads(out) for out in result.stdout.splitlines()]
    assert (first["format"], first["message"]) == ("json", "epoch ms")
    assert first["ts"] == "2025-11-20T10:00:00.123Z"
    assert (second["format"], second["level"]) == ("gcp_structured", "notice")
    assert second["message"] == "order placed"
    assert second["ts"] == "2026-12-07T06:50:31.956Z" and second["fields"]["message"] == {"order_id": 17}


def test_traefik_json_access_level_comes_from_the_status_and_the_status_stays() -> None:
    """The schema's `"5*"`/`"4*"` level map and `level.keep`, on its sample line with other statuses."""
    (schema,) = [s for s in SCHEMAS if s.name == "traefik_json_access"]
    line = schema.samples[-1].lines[0]
    status = '"DownstreamStatus":200'
    lines = [line.replace(status, f'"DownstreamStatus":{code}') for code in (200, 404, 502)]
    result = run_cli("parse", input="\n".join(lines) + "\n")
    records = [json.loads(out) for out in result.stdout.splitlines()]
    assert [r["level"] for r in records] == ["info", "warning", "error"]
    assert [r["fields"]["DownstreamStatus"] for r in records] == [200, 404, 502]
    assert {r["format"] for r in records} == {"traefik_json_access"}
