"""Hostile or unlucky rule files (issue 22, items 2, 3 and 8), through the real CLI.

Every rule and user expression runs under a time limit and a memory limit that hold: what
`rules check` can see is refused there (one line naming file, rule and field, exit 2); what only
shows on the records is stopped at run time, the rule reported as disabled with the reason, and
ingestion goes on. Limits are asserted in seconds and bytes of resident memory (the child's peak,
from wait4). Each child runs under a 6 GiB address-space cap so that a regression fails the test
instead of swapping the machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, assert_clean_error, cli_env, query_db, run_cli

SAFETY_CAP = 6 << 30  # address space of each child (a backstop for a failing limit, not the limit)
GIB = 1 << 30


def run_measured(
    *args: str, cwd: Path = REPO, stop_after: float | None = None, counted_from: Path | None = None
) -> tuple[int, str, float, int]:
    """Run the CLI; (exit status, stderr, seconds, peak resident bytes). `stop_after`: send
    SIGINT after that many seconds (from when `counted_from` exists, if given)."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (SAFETY_CAP, SAFETY_CAP))

    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "logscope", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=cap,
    )
    if stop_after is not None:
        deadline = time.monotonic() + 60
        while counted_from is not None and not counted_from.exists() and child.poll() is None:
            assert time.monotonic() < deadline, f"{counted_from} never appeared"
            time.sleep(0.05)
        time.sleep(stop_after)
        child.send_signal(signal.SIGINT)
    assert child.stderr is not None
    stderr = child.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, stderr, time.monotonic() - started, usage.ru_maxrss * 1024


def rule_file(tmp_path: Path, text: str, name: str = "abuse.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ingest_measured(
    tmp_path: Path, db: Path, rules: Path, stop_after: float | None = None
) -> tuple[int, str, float, int]:
    """`run_measured` of a quiet ingest of the nginx sample with only `rules`."""
    args = ("ingest", "-q", "--db", str(db), "--no-default-rules", "--rules", str(rules))
    return run_measured(*args, str(nginx_sample(tmp_path)), stop_after=stop_after, counted_from=db)


def nginx_sample(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.write_bytes((REPO / "sample_logs" / "nginx_access.log").read_bytes())
    return path


def rule_commands(tmp_path: Path, rules: Path) -> dict[str, list[str]]:
    """The commands that read a rule file: `rules check`, and `rules backtest` and `ingest` (into
    x.duckdb, default rules too) of the nginx sample."""
    log = str(nginx_sample(tmp_path))
    return {
        "check": ["rules", "check", str(rules)],
        "backtest": ["rules", "backtest", str(rules), log],
        "ingest": ["ingest", "--db", str(tmp_path / "x.duckdb"), "--rules", str(rules), log],
    }


GOOD_RULE = """
[[rule]]
name = "server_errors"
kind = "threshold"
where = "status >= 500"
window = "1m"
threshold = 20
"""


# --- item 2: time ------------------------------------------------------------------------------

ENDLESS = """
[[rule]]
name = "endless"
where = "(WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM t) SELECT count(*) FROM t) > 0"
"""


@pytest.mark.slow
def test_an_endless_recursive_query_is_refused_by_rules_check_within_seconds(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, ENDLESS)
    commands = rule_commands(tmp_path, rules)
    status, stderr, seconds, peak = run_measured(*commands["check"])
    assert status == 2, stderr
    assert "Traceback" not in stderr
    assert (
        f"{rules}: rule 'endless': field 'where': ran longer than 3 s (the time limit of rule SQL)" in stderr
    )
    assert seconds < 30, seconds
    assert peak < GIB, peak
    # ingest checks the rules first: the same one-line refusal, nothing read, no hang.
    status, stderr, seconds, _ = run_measured(*commands["ingest"])
    assert status == 2 and "rule 'endless'" in stderr and "Traceback" not in stderr, stderr
    assert seconds < 30, seconds


# Endless only on records (each record's length drives it): `rules check` cannot see it.
SLOW_ON_RECORDS = """
[[rule]]
name = "slow"
where = '''(WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t
  WHERE n < length(message) * 100000000) SELECT count(*) FROM t) > 0'''
fields = { n = "BIGINT" }
"""


@pytest.mark.slow
def test_a_rule_endless_on_the_records_is_disabled_and_ingest_goes_on(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, SLOW_ON_RECORDS + GOOD_RULE)
    db = tmp_path / "x.duckdb"
    status, stderr, seconds, peak = ingest_measured(tmp_path, db, rules)
    assert status == 0, stderr
    disabled = [line for line in stderr.splitlines() if "rule 'slow' failed and is disabled" in line]
    assert disabled == [
        f"logscope: error: {rules}: rule 'slow' failed and is disabled:"
        " ran longer than 10 s (the time limit of rule SQL)"
    ], stderr
    assert "Traceback" not in stderr
    assert seconds < 45, seconds  # the batch, then the rule alone: twice the limit, not forever
    assert peak < GIB, peak
    assert query_db(db, "SELECT count(*) FROM logs") == [(749,)]
    # The other rule kept running: the sample's 5xx burst.
    assert query_db(db, "SELECT rule, count FROM alerts") == [("server_errors", 20)]


@pytest.mark.slow
def test_sigint_stops_an_ingest_whose_rule_runs_endlessly(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, SLOW_ON_RECORDS)
    # SIGINT 3 s after the database appears: the sample is read and stored by then, and the rule is
    # running. (Counted from the database, not from the start: on a loaded machine Python's imports
    # alone can take seconds, and a SIGINT amid them is a KeyboardInterrupt traceback.)
    status, stderr, seconds, _ = ingest_measured(tmp_path, tmp_path / "x.duckdb", rules, stop_after=3.0)
    assert "Traceback" not in stderr, stderr
    assert status in (0, 1, 130), stderr
    assert seconds < 45, seconds  # not forever: the rule's time limit ends what it runs


# --- item 2: memory ------------------------------------------------------------------------------


@pytest.mark.slow
def test_repeating_a_records_text_is_refused_before_it_can_take_gigabytes(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, '[[rule]]\nname = "huge"\nwhere = "length(repeat(message, 100000000)) > 0"\n')
    commands = rule_commands(tmp_path, rules)
    status, stderr, seconds, peak = run_measured(*commands["check"])
    assert status == 2, stderr
    assert seconds < 30 and peak < GIB, (seconds, peak)
    assert f"{rules}: rule 'huge': field 'where': repeat(): only of a constant" in stderr
    status, stderr, _, peak = run_measured(*commands["ingest"])
    assert status == 2 and "rule 'huge'" in stderr and "Traceback" not in stderr, stderr
    assert peak < GIB, peak
    status, stderr, _, peak = run_measured(*commands["backtest"])
    assert status == 2 and "rule 'huge'" in stderr and "Traceback" not in stderr, stderr
    assert peak < GIB, peak


# Builds a string of about 500 GB per record, by concatenation, inside one function call.
HUNGRY_ON_RECORDS = """
[[rule]]
name = "hungry"
where = \"\"\"length(list_reduce(list_transform(range(10000), lambda x: message || repeat('y', 10000)),
  lambda a, b: a || b)) > 0\"\"\"
"""


@pytest.mark.slow
def test_a_rule_whose_memory_grows_on_the_records_is_stopped_near_its_limit(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, HUNGRY_ON_RECORDS + GOOD_RULE)
    db = tmp_path / "x.duckdb"
    status, stderr, seconds, peak = ingest_measured(tmp_path, db, rules)
    assert status == 0, stderr
    # DuckDB 1.5.5 does not look at the watchdog's interrupt inside list_reduce, and its
    # memory_limit does not count these strings: the watchdog caps the address space instead, and
    # the query's next allocation fails (measured: a peak of 1.4 GB here; 3.7 GB and more without).
    # (The rule's predicates, computed ahead, and its evaluation may run at once: the one that
    # did not go over the limit fails under the cap the other put on, and says so.)
    over = "used more than 1024 MB of memory (the limit of rule SQL)"
    disabled = f"logscope: error: {rules}: rule 'hungry' failed and is disabled: "
    capped = f"ran out of memory while rule SQL over its limit was stopped ({over})"
    # (CI once saw the third: "ran out of the memory rule SQL may use: Out of Memory Error: Failed
    # to allocate block of 8388608 bytes (bad allocation)", where the failed query had not seen
    # the cap; the sandbox now blames any cap put on while the query ran, lifted since or not.)
    plain = "ran out of the memory rule SQL may use: Out of Memory Error: "
    said = [line for line in stderr.splitlines() if line.startswith(disabled)]
    assert len(said) == 1 and said[0].removeprefix(disabled).startswith((over, capped, plain)), stderr
    assert peak < 2 * GIB, peak  # 1 GiB above what the process held, and what it held
    assert seconds < 45, seconds
    assert query_db(db, "SELECT count(*) FROM logs") == [(749,)]
    assert query_db(db, "SELECT rule, count FROM alerts") == [("server_errors", 20)]


@pytest.mark.slow
def test_a_summary_format_width_of_a_billion_is_refused(tmp_path: Path) -> None:
    rules = rule_file(
        tmp_path, '[[rule]]\nname = "wide"\nwhere = "status >= 500"\nsummary = "{count:>999999999}"\n'
    )
    status, stderr, _, peak = run_measured(*rule_commands(tmp_path, rules)["backtest"])
    assert status == 2, stderr
    assert (
        f"{rules}: rule 'wide': field 'summary': {{count:>999999999}}: a width or precision of at most 1,000"
    ) in stderr
    assert "Traceback" not in stderr
    assert peak < GIB, peak


@pytest.mark.slow
def test_a_sql_rule_counting_text_fails_rules_check_not_the_backtest(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, '[[rule]]\nname = "abc"\nkind = "sql"\nquery = "SELECT \'abc\' AS count"\n')
    commands = rule_commands(tmp_path, rules)
    result = run_cli(*commands["check"])
    assert_clean_error(result, 2)
    assert (
        f"{rules}: rule 'abc': field 'query': column 'count' must be a number, but its type is VARCHAR"
        in result.stderr
    )
    for command in (commands["backtest"], commands["ingest"]):
        result = run_cli(*command)
        assert_clean_error(result, 2)
        assert "column 'count' must be a number" in result.stderr


# --- item 3: sql rules see the first batch -------------------------------------------------------


@pytest.mark.slow
def test_a_sql_rule_runs_over_the_first_batch(tmp_path: Path) -> None:
    start = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    log = tmp_path / "two_hours.jsonl"
    log.write_text(
        "".join(
            json.dumps(
                {
                    "ts": f"{start + dt.timedelta(seconds=n):%Y-%m-%dT%H:%M:%SZ}",
                    "level": "info",
                    "msg": f"line {n}",
                }
            )
            + "\n"
            for n in range(7200)
        )
    )
    rules = rule_file(
        tmp_path, '[[rule]]\nname = "one"\nkind = "sql"\nquery = "SELECT 1 AS count"\ninterval = "1m"\n'
    )
    result = run_cli("rules", "backtest", str(rules), str(log), "--nl")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    # The first run is at the first minute boundary after the first record; renotified hourly.
    assert [(event["at"], event["event"]) for event in events] == [
        ("2026-11-20T08:01:00.000Z", "firing"),
        ("2026-11-20T09:01:00.000Z", "renotify"),
    ]
    db = tmp_path / "x.duckdb"
    result = run_cli("ingest", "-q", "--db", str(db), "--no-default-rules", "--rules", str(rules), str(log))
    assert result.returncode == 0, result.stderr
    assert query_db(db, "SELECT rule, state, CAST(first_at AS VARCHAR), notifications FROM alerts") == [
        ("one", "firing", "2026-11-20 08:01:00+00", 2)
    ]


# --- item 8: a rule file that is not UTF-8 ---------------------------------------------------------


@pytest.mark.slow
def test_a_rule_file_with_invalid_utf8_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_bytes(b'[[rule]]\nname = "x"\nwhere = "message = \'\xff\xfe\'"\n')
    expected = f"{rules}: not valid UTF-8: byte 0xff on line 3 (TOML files are UTF-8)"
    for command in rule_commands(tmp_path, rules).values():  # check, backtest, ingest
        result = run_cli(*command)
        assert_clean_error(result, 2)
        assert expected in result.stderr, result.stderr
    tests = tmp_path / "bad_test.toml"
    tests.write_bytes(b"rule_files = ['bad.toml']\n# \xc3\x28\n")
    result = run_cli("rules", "test", str(tests))
    assert_clean_error(result, 2)
    assert f"{tests}: not valid UTF-8: byte 0xc3 on line 2" in result.stderr
