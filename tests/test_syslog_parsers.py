"""The syslog parsers on real message shapes: RFC 3164/BSD, syslog files, RFC 5424 with structured data."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import query_db, run_cli

from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import score_lines
from logscope.parsing.syslog import Rfc3164Parser, Rfc5424Parser, parse_structured_data
from logscope.parsing.time_values import infer_year, us_to_datetime

BSD = Rfc3164Parser(UTC)
IETF = Rfc5424Parser(UTC)


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def test_rfc3164_from_the_network_with_priority_host_tag_and_pid() -> None:
    ts, level, message, fields, host = BSD.parse("<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed")
    year = infer_year(10, 11, datetime.now(UTC))
    assert ts == at(f"{year}-10-11T22:14:15+00:00")
    assert (level, message, host) == ("critical", "'su root' failed", "mymachine")
    assert fields == {"facility": "auth", "severity": "crit", "app": "su", "pid": 230}


def test_rfc3164_local_socket_form_has_no_hostname() -> None:
    # What util-linux logger writes to /dev/log: the tag follows the time directly.
    _, level, message, fields, host = BSD.parse("<13>Nov 26 02:17:11 root: hello world")
    assert (level, message, host) == ("notice", "hello world", None)
    assert fields == {"facility": "user", "severity": "notice", "app": "root"}


def test_priority_only_messages_from_python_sysloghandler() -> None:
    assert BSD.parse("<14>plain message\x00") == (
        None,
        "info",
        "plain message",
        {"facility": "user", "severity": "info"},
        None,
    )
    _, level, message, fields, _ = BSD.parse("<131>myapp: disk almost full")
    assert (level, message) == ("error", "disk almost full")
    assert fields == {"facility": "local0", "severity": "err", "app": "myapp"}


@pytest.mark.parametrize(
    ("pri", "facility", "severity", "level"),
    [
        (0, "kern", "emerg", "fatal"),
        (9, "user", "alert", "critical"),
        (87, "authpriv", "debug", "debug"),
        (164, "local4", "warning", "warning"),
        (191, "local7", "debug", "debug"),
    ],
)
def test_priority_decodes_to_facility_severity_and_level(pri, facility, severity, level) -> None:
    _, parsed_level, _, fields, _ = BSD.parse(f"<{pri}>Jan  2 03:04:05 h app: x")
    assert (fields["facility"], fields["severity"], parsed_level) == (facility, severity, level)


def test_out_of_range_priority_is_not_syslog() -> None:
    assert BSD.parse("<192>Jan  2 03:04:05 h app: x") is None
    assert IETF.parse("<192>1 2026-01-02T03:04:05Z h app - - - x") is None


def test_plain_syslog_file_lines() -> None:
    ts, level, message, fields, host = BSD.parse(
        "Dec 31 23:59:58 web-1 systemd-logind[412]: New session 7 of user deploy."
    )
    assert (level, host, message) == (None, "web-1", "New session 7 of user deploy.")
    assert fields == {"app": "systemd-logind", "pid": 412}
    assert us_to_datetime(ts).strftime("%m-%d %H:%M:%S") == "12-31 23:59:58"
    # A single-digit day is padded with a space; fractions and untagged messages are kept.
    ts, _, message, fields, host = BSD.parse("Oct  1 22:14:15.123 host1 last message repeated 3 times")
    assert us_to_datetime(ts).strftime("%m-%d %H:%M:%S.%f") == "10-01 22:14:15.123000"
    assert (host, message, fields) == ("host1", "last message repeated 3 times", None)


def test_rsyslog_high_precision_file_format() -> None:
    ts, _, message, fields, host = BSD.parse(
        "2026-03-04T05:06:07.123456+01:00 db-2 postgres[77]: checkpoint starting: time"
    )
    assert ts == at("2026-03-04T04:06:07.123456+00:00")
    assert (host, message, fields) == ("db-2", "checkpoint starting: time", {"app": "postgres", "pid": 77})


def test_iso_timestamped_lines_without_a_tag_are_left_to_other_formats() -> None:
    assert BSD.parse("2026-03-04T05:06:07Z INFO server started") is None
    assert BSD.parse("plain text") is None
    assert BSD.parse("Octopus 11 22:14:15 x") is None


def test_bsd_time_is_read_in_the_given_zone() -> None:
    berlin = Rfc3164Parser(ZoneInfo("Europe/Berlin"))
    ts, *_ = berlin.parse("Jul  4 12:00:00 h app: x")
    year = infer_year(7, 4, datetime.now(ZoneInfo("Europe/Berlin")))
    assert ts == at(f"{year}-07-04T10:00:00+00:00")


def test_rfc5424_example_with_structured_data_and_bom() -> None:
    line = (
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"'
        ' eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]'
        " \ufeffAn application event log entry"
    )
    ts, level, message, fields, host = IETF.parse(line)
    assert ts == at("2003-10-11T22:14:15.003+00:00")
    assert (level, message, host) == ("notice", "An application event log entry", "mymachine.example.com")
    assert fields == {
        "facility": "local4",
        "severity": "notice",
        "app": "evntslog",
        "msgid": "ID47",
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "examplePriority@32473": {"class": "high"},
    }


def test_rfc5424_nil_values_and_text_procid() -> None:
    ts, level, message, fields, host = IETF.parse("<11>1 - - - worker-3 - - something broke")
    assert (ts, level, message, host) == (None, "error", "something broke", None)
    assert fields == {"facility": "user", "severity": "err", "procid": "worker-3"}
    assert IETF.parse("<11>1 - - - - - -") == (
        None,
        "error",
        "",
        {"facility": "user", "severity": "err"},
        None,
    )


def test_structured_data_escapes_and_repeated_params() -> None:
    elements, rest = parse_structured_data(r'[a@1 q="say \"hi\"" b="x\]y" b="z" p="c:\\d"] msg')
    assert elements == {"a@1": {"q": 'say "hi"', "b": ["x]y", "z"], "p": "c:\\d"}}
    assert rest == " msg"
    assert parse_structured_data("[broken") is None


def test_each_parser_leaves_the_other_rfc_alone() -> None:
    rfc5424 = '<13>1 2026-11-26T02:17:11.043835+00:00 vm root - - [timeQuality tzKnown="1"] hello'
    assert BSD.parse(rfc5424) is None
    assert IETF.parse("<13>Nov 26 02:17:11 vm root: hello") is None


def test_registry_detects_syslog_formats_and_exposes_field_types() -> None:
    registry = builtin_registry(UTC)
    bsd_lines = [f"<30>Nov {day:2d} 10:00:00 host app[{day}]: message {day}" for day in range(1, 20)]
    assert score_lines(registry, bsd_lines)[0] == ("syslog", len(bsd_lines))
    # Plain syslog files are accepted too (a TOML format may rank first for them).
    file_lines = [line.removeprefix("<30>") for line in bsd_lines]
    assert ("syslog", len(file_lines)) in score_lines(registry, file_lines)
    ietf_lines = [f"<14>1 2026-11-{day:02d}T10:00:00Z h app 1 ID - message" for day in range(1, 20)]
    assert score_lines(registry, ietf_lines)[0] == ("syslog5424", len(ietf_lines))
    assert registry.field_types("syslog")["pid"] == "BIGINT"
    assert registry.field_types("syslog5424")["msgid"] == "VARCHAR"


def _logger_datagrams(tmp_path: Path, *runs: list[str]) -> list[str]:
    """What util-linux `logger` sends to a local datagram socket, one message per run."""
    path = tmp_path / "log.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(10)
        sent = []
        for arguments in runs:
            subprocess.run(["logger", "-u", str(path), *arguments], check=True, timeout=10)
            sent.append(sock.recv(65536).decode())
    return sent


@pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger is not installed")
def test_bsd_syslog_lines_without_a_host_keep_the_program_as_the_program(tmp_path: Path) -> None:
    """A text file of real `logger` messages without their PRI: the local /dev/log form has no
    host (the tag follows the time), --rfc3164 names the host."""
    local, rfc3164 = _logger_datagrams(
        tmp_path,
        ["-t", "myprog", "--id=4242", "written to /dev/log"],
        ["--rfc3164", "-t", "myprog", "--id=4242", "with a host"],
    )
    assert re.fullmatch(r"<13>\w{3} [ \d]\d \d\d:\d\d:\d\d myprog\[4242\]: written to /dev/log", local)
    assert rfc3164.startswith("<13>") and " myprog[4242]: with a host" in rfc3164
    log, db = tmp_path / "messages", tmp_path / "x.duckdb"
    log.write_text("".join(message.removeprefix("<13>") + "\n" for message in (local, rfc3164)))
    result = run_cli("ingest", "-q", "--format", "bsd_syslog", str(log), "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = query_db(db, "SELECT host, fields->>'app', fields->>'pid', message FROM logs ORDER BY id")
    host = rfc3164.split()[3]  # what logger took for the host name
    assert rows == [
        (None, "myprog", "4242", "written to /dev/log"),
        (host, "myprog", "4242", "with a host"),
    ]
