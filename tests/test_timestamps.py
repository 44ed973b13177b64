"""Timestamp families, year inference, and the --tz rule for times written without a zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import cli_env, run_cli

from logscope.parsing.time_formats import TimeFormatError, compile_time_format, pattern_to_regex
from logscope.parsing.time_values import infer_year, parse_time_value


def us(text: str) -> int:
    """Microseconds since the epoch for an aware ISO time (the stdlib reading, for comparison)."""
    moment = datetime.fromisoformat(text)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def fixed_clock(text: str):
    moment = datetime.fromisoformat(text)
    return lambda: moment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:15:30Z", "2024-03-01T10:15:30+00:00"),
        ("2024-03-01T10:15:30.123456789Z", "2024-03-01T10:15:30.123456+00:00"),
        ("2024-03-01T10:15:30+02:00", "2024-03-01T08:15:30+00:00"),
        ("2024-03-01 10:15:30.5-05:30", "2024-03-01T15:45:30.5+00:00"),
        ("2024-03-01T10:15:30", "2024-03-01T10:15:30+00:00"),  # naive: read in the zone (UTC here)
        ("2015-10-18 18:01:47,978", "2015-10-18T18:01:47.978+00:00"),  # comma milliseconds
    ],
)
def test_iso_and_rfc3339(text: str, expected: str) -> None:
    assert compile_time_format("iso", UTC)(text) == us(expected)


def test_apache_time_with_offset() -> None:
    read = compile_time_format("%d/%b/%Y:%H:%M:%S %z", UTC)
    assert read("10/Oct/2000:13:55:36 -0700") == us("2000-10-10T20:55:36+00:00")
    assert read("10/Oct/2000:13:55:36 +0130") == us("2000-10-10T12:25:36+00:00")
    # An explicit offset wins over the --tz zone.
    berlin = compile_time_format("%d/%b/%Y:%H:%M:%S %z", ZoneInfo("Europe/Berlin"))
    assert berlin("10/Oct/2000:13:55:36 -0700") == us("2000-10-10T20:55:36+00:00")


def test_comma_milliseconds_pattern() -> None:
    read = compile_time_format("%Y-%m-%d %H:%M:%S,%f", UTC)
    assert read("2015-07-29 17:41:44,747") == us("2015-07-29T17:41:44.747+00:00")


def test_hdfs_two_digit_years() -> None:
    read = compile_time_format("%y%m%d %H%M%S", UTC)
    assert read("081109 203615") == us("2008-11-09T20:36:15+00:00")
    assert read("991231 235959") == us("1999-12-31T23:59:59+00:00")  # 69..99 are 19xx


def test_syslog_year_is_inferred_from_the_clock() -> None:
    read = compile_time_format("%b %d %H:%M:%S", UTC, fixed_clock("2026-06-15T12:00:00+00:00"))
    assert read("Jun 14 15:16:01") == us("2026-06-14T15:16:01+00:00")
    assert read("Oct  1 22:14:15") == us("2025-10-01T22:14:15+00:00")  # months ahead: last year


def test_syslog_december_read_in_january_is_last_year() -> None:
    read = compile_time_format("%b %d %H:%M:%S", UTC, fixed_clock("2027-01-02T00:10:00+00:00"))
    assert read("Dec 31 23:59:58") == us("2026-12-31T23:59:58+00:00")
    assert read("Jan  2 00:09:00") == us("2027-01-02T00:09:00+00:00")
    assert infer_year(12, 31, datetime(2027, 1, 2, tzinfo=UTC)) == 2026
    assert infer_year(1, 2, datetime(2027, 1, 2, tzinfo=UTC)) == 2027


def test_year_less_29_february() -> None:
    read = compile_time_format("%b %d %H:%M:%S", UTC, fixed_clock("2025-03-01T00:00:00+00:00"))
    assert read("Feb 29 10:00:00") == us("2024-02-29T10:00:00+00:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1131566461", "2005-11-09T20:01:01+00:00"),  # seconds
        ("1131566461.25", "2005-11-09T20:01:01.25+00:00"),
        ("1131566461250", "2005-11-09T20:01:01.25+00:00"),  # milliseconds
        ("1131566461250000", "2005-11-09T20:01:01.25+00:00"),  # microseconds
        ("1131566461250000000", "2005-11-09T20:01:01.25+00:00"),  # nanoseconds
    ],
)
def test_epoch_by_magnitude(text: str, expected: str) -> None:
    assert compile_time_format("epoch", UTC)(text) == us(expected)
    assert parse_time_value(text, UTC) == us(expected)
    assert compile_time_format("%s", UTC)(text) == us(expected)


def test_naive_times_read_in_the_zone_with_daylight_saving() -> None:
    new_york = ZoneInfo("America/New_York")
    read = compile_time_format("%Y-%m-%d %H:%M:%S", new_york)
    assert read("2024-01-15 12:00:00") == us("2024-01-15T17:00:00+00:00")  # EST, UTC-5
    assert read("2024-07-15 12:00:00") == us("2024-07-15T16:00:00+00:00")  # EDT, UTC-4
    fixed = compile_time_format("%Y-%m-%d %H:%M:%S", timezone(timedelta(hours=9)))
    assert fixed("2024-07-15 12:00:00") == us("2024-07-15T03:00:00+00:00")
    assert compile_time_format("iso", new_york)("2024-07-15T12:00:00") == us("2024-07-15T16:00:00+00:00")


def test_invalid_dates_and_patterns() -> None:
    read = compile_time_format("%Y-%m-%d %H:%M:%S", UTC)
    assert read("2024-02-30 10:00:00") is None
    assert read("2024-13-01 10:00:00") is None
    assert read("not a time") is None
    with pytest.raises(TimeFormatError):
        pattern_to_regex("%Y-%m-%d %Q")
    with pytest.raises(TimeFormatError):
        pattern_to_regex("%Y-%m-%d")  # no hour


def test_repeated_times_come_from_the_cache() -> None:
    read = compile_time_format("%d/%b/%Y:%H:%M:%S %z", UTC)
    first = read("10/Oct/2000:13:55:36 -0700")
    assert read("10/Oct/2000:13:55:36 -0700") == first
    assert "10/Oct/2000:13:55:36 -0700" in read.cache  # type: ignore[attr-defined]


def _parse_ts(tmp_path: Path, line: str, *args: str, env: dict[str, str] | None = None) -> str:
    log = tmp_path / "app.log"
    log.write_text(line + "\n")
    result = run_cli("parse", str(log), *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[0])["ts"]


def test_tz_option_reads_naive_times_in_that_zone(tmp_path: Path) -> None:
    line = "2024-07-15 12:00:00,000 INFO [main] com.example.App: started"
    assert _parse_ts(tmp_path, line, "--tz", "Europe/Berlin") == "2024-07-15T10:00:00.000Z"
    assert _parse_ts(tmp_path, line, "--tz", "UTC") == "2024-07-15T12:00:00.000Z"
    # Without --tz the local zone applies (TZ of the process).
    assert _parse_ts(tmp_path, line, env=cli_env(TZ="Asia/Tokyo")) == "2024-07-15T03:00:00.000Z"
    # A time with its own offset ignores --tz.
    access = '1.2.3.4 - - [15/Jul/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"'
    assert _parse_ts(tmp_path, access, "--tz", "Europe/Berlin") == "2024-07-15T12:00:00.000Z"


def test_unknown_zone_is_a_clean_error(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x\n")
    result = run_cli("parse", str(log), "--tz", "Mars/Olympus")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Mars/Olympus" in result.stderr


def test_time_of_day_only_takes_todays_date_or_yesterdays_just_after_midnight() -> None:
    read = compile_time_format("%H:%M:%S.%f", UTC, fixed_clock("2026-11-26T00:10:00+00:00"))
    assert read("00:05:00.123") == us("2026-11-26T00:05:00.123+00:00")
    assert read("23:59:59.999") == us("2026-11-25T23:59:59.999+00:00")
    berlin = compile_time_format(
        "%H:%M:%S.%f", ZoneInfo("Europe/Berlin"), fixed_clock("2026-11-26T00:10:00+00:00")
    )
    assert berlin("01:05:00.000") == us("2026-11-26T00:05:00+00:00")  # 01:10 in Berlin now
