"""Header-driven formats (issue 16): W3C extended (IIS), Zeek TSV and CSV with a header, on real
files (tests/data/headers/README.md says where each came from), both import paths alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, query_db, run_cli
from test_bulk_identity import assert_identical

DATA = Path(__file__).parent / "data" / "headers"


def _ingest(tmp_path: Path, log: Path) -> Path:
    db = tmp_path / f"{log.stem}.duckdb"
    result = run_cli("ingest", "--db", str(db), str(log))
    assert result.returncode == 0, result.stderr
    return db


def test_iis_w3c_columns_come_from_the_fields_directive(tmp_path: Path) -> None:
    db = _ingest(tmp_path, DATA / "iis_hsphere.log")
    rows = query_db(
        db,
        "SELECT format, strftime(ts, '%Y-%m-%d %H:%M:%S'), level, fields->>'c-ip', fields->>'cs-uri-stem',"
        " (fields->'sc-bytes')::INT, fields->>'directive' FROM logs ORDER BY id",
    )
    assert [row[0] for row in rows] == ["w3c"] * 5
    assert [row[6] for row in rows[:3]] == ["Software", "Date", "Fields"]
    assert rows[3][1:6] == ("2007-03-03 01:17:39", "info", "66.194.6.79", "/index.html", 17691)
    assert rows[4][1:5] == ("2007-03-03 10:23:40", "info", "24.252.248.163", "/images/9a.jpg")


def test_an_empty_zeek_separator_is_not_a_crash(tmp_path: Path) -> None:
    log = tmp_path / "empty_separator.log"
    log.write_text("#separator \n#fields\tts\tuid\n1591367999.305988\tCazOhH2qDUiJTWMCY\n")
    result = run_cli("ingest", "--format", "zeek", "--db", str(tmp_path / "z.duckdb"), str(log))
    assert result.returncode == 0 and "failed" not in result.stderr, result.stderr
    assert query_db(tmp_path / "z.duckdb", "SELECT count(*) FROM logs") == [(3,)]  # kept as raw


@pytest.mark.slow
def test_blank_lines_between_directives_join_them_and_status_gives_levels(tmp_path: Path) -> None:
    text = (
        (DATA / "iis_hsphere.log")
        .read_text()
        .replace("#Date:", "\n#Date:")
        .replace(" 200 0 32022", " 404 0 32022")
    )
    log = tmp_path / "ex070304.log"
    log.write_text(text)
    db = _ingest(tmp_path, log)
    rows = query_db(
        db, "SELECT level, (fields->'sc-status')::INT FROM logs WHERE fields->>'directive' IS NULL"
    )
    assert rows == [("info", 200), ("warning", 404)]
    assert query_db(db, "SELECT count(*) FROM logs")[0][0] == 5  # the blank line joined its directive
    assert_identical(log, tmp_path)


@pytest.mark.slow
def test_zeek_tsv_typed_by_its_types_line(tmp_path: Path) -> None:
    db = _ingest(tmp_path, DATA / "zeek_conn.log")
    rows = query_db(
        db,
        "SELECT format, epoch_us(ts), fields->>'uid', fields->'id.resp_p', fields->'duration',"
        " fields->>'service' FROM logs WHERE fields->>'directive' IS NULL ORDER BY id",
    )
    assert rows == [
        ("zeek", 1591367999305988, "CazOhH2qDUiJTWMCY", "53", "0.066852", "dns"),
        ("zeek", 1591367999430166, "CLqEx41jYPOdfHF586", "80", "0.254115", "http"),
    ]
    unset = query_db(
        db, "SELECT json_exists(fields, '$.local_orig') FROM logs WHERE fields->>'uid' IS NOT NULL"
    )
    assert unset == [(False,), (False,)]  # `-` is unset: left out
    assert query_db(db, "SELECT count(*), count(*) FILTER (format = 'zeek') FROM logs")[0] == (11, 11)
    assert_identical(DATA / "zeek_packet_filter.log", tmp_path)


def test_zeek_values_with_spaces_stay_whole(tmp_path: Path) -> None:
    result = run_cli("parse", str(DATA / "zeek_packet_filter.log"))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    (data,) = [r for r in records if "directive" not in (r["fields"] or {})]
    assert data["fields"] == {"node": "zeek", "filter": "ip or not ip", "init": True, "success": True}


@pytest.mark.slow
def test_csv_with_a_header_round_trips_logscope_query_output(tmp_path: Path) -> None:
    """`logscope query --csv` (real output: a header, quoted fields) read back as `csv`."""
    db = _ingest(tmp_path, REPO / "sample_logs" / "nginx_access.log")
    exported = run_cli(
        "query", "--db", str(db), "--csv", "SELECT ts, level, host, message FROM logs ORDER BY id"
    )
    assert exported.returncode == 0, exported.stderr
    log = tmp_path / "export.csv"
    log.write_text(exported.stdout)
    again = _ingest(tmp_path, log)
    original = query_db(db, "SELECT ts, level, message FROM logs ORDER BY id")
    rows = query_db(
        again, "SELECT format, ts, level, message FROM logs WHERE fields->>'directive' IS NULL ORDER BY id"
    )
    assert [row[0] for row in rows] == ["csv"] * len(original)
    assert [row[1:] for row in rows] == original
    assert_identical(log, tmp_path)


def test_a_csv_without_a_time_column_is_not_taken(tmp_path: Path) -> None:
    log = tmp_path / "plain.csv"
    log.write_text("name,count\napples,3\npears,4\n")
    result = run_cli("parse", str(log))
    assert {json.loads(line)["format"] for line in result.stdout.splitlines()} == {"raw"}
