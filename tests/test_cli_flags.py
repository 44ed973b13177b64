"""One convention for output flags on every verb that prints rows, `--format` for the log format
only, and one way to write values: TSV cells, times, counts (issue 23, items 4 and 5)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import REPO, assert_clean_error, query_db, run_cli

from logscope.cli import VERBS, build_parser
from logscope.commands.completion import log_format_names

SAMPLES = str(REPO / "sample_logs")
# Every verb that prints rows, with the arguments it needs (a database comes from the fixture).
ROW_VERBS = {
    "query": ["query", "SELECT 1 AS a, 'x' AS b"],
    "formats list": ["formats", "list"],
    "formats detect": ["formats", "detect", str(REPO / "sample_logs" / "syslog")],
    "rules backtest": ["rules", "backtest", str(REPO / "rules" / "web.toml"), SAMPLES],
    "markers": ["markers"],
}
# What each format's output starts with.
STARTS = {
    "--table": "┏",
    "--csv": "",
    "--tsv": "",
    "--json": "[\n {",
    "--nl": "{",
    "--jsonl": "{",
    "--markdown": "| ",
}


@pytest.fixture(scope="module")
def one_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flags") / "flags.duckdb"
    log = path.parent / "app.jsonl"
    log.write_text('{"ts":"2024-05-01T10:00:00.123456Z","level":"error","msg":"one","code":7}\n')
    result = run_cli("ingest", str(log), "--db", str(path))
    assert result.returncode == 0, result.stderr
    assert "ingested 1 line from 1 source in" in result.stderr  # not "1 lines", "1 sources"
    assert run_cli("mark", "deploy", "--at", "2024-05-01T10:00:00Z", "--db", str(path)).returncode == 0
    return path


@pytest.mark.parametrize("flag", STARTS)
@pytest.mark.parametrize("verb", ROW_VERBS)
@pytest.mark.slow
def test_every_row_verb_takes_every_format_flag(verb: str, flag: str, one_db: Path) -> None:
    args = ROW_VERBS[verb] + (["--db", str(one_db)] if verb in ("query", "markers") else [])
    result = run_cli(*args, flag)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert result.stdout.startswith(STARTS[flag])
    if flag == "--csv":
        assert "," in result.stdout.splitlines()[0] and "\t" not in result.stdout.splitlines()[0]
    if flag == "--tsv":
        assert "\t" in result.stdout.splitlines()[0]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["query", "--format", "csv"], ["query", "--csv"]),
        (["query", "--output", "jsonl"], ["query", "--nl"]),
        (["formats", "list", "--output", "json"], ["formats", "list", "--json"]),
        (["status", "--format", "json"], ["status", "--json"]),
    ],
)
def test_old_spellings_work_with_a_one_line_note(old: list[str], new: list[str], one_db: Path) -> None:
    sql = ["SELECT 1 AS a, 'x' AS b"] if old[0] == "query" else []
    db = ["--db", str(one_db)] if old[0] in ("query", "status") else []
    before, after = run_cli(*old, *db, *sql), run_cli(*new, *db, *sql)
    assert before.returncode == after.returncode == 0, before.stderr
    flag = new[-1]
    assert before.stderr == f"logscope: warning: {old[-2]} {old[-1]} is deprecated; use {flag}\n"
    assert after.stderr == ""
    if old[0] != "status":  # status holds the time it was asked
        assert before.stdout == after.stdout


def test_format_means_the_log_format_wherever_it_is_shown() -> None:
    """In every verb's --help, `--format` takes a log format NAME; no verb shows it for output."""
    log_formats = {"NAME", *log_format_names()}
    for verb in VERBS:
        parser = build_parser(verb)
        action = next(a for a in parser._actions if a.dest == "verb")
        texts = [action.choices[verb].format_help()]
        for sub in action.choices[verb]._actions:
            if getattr(sub, "choices", None) and isinstance(sub.choices, dict):
                texts += [p.format_help() for p in sub.choices.values()]
        for text in texts:
            assert "--output" not in text, verb
            for match in re.finditer(r"--format(?!s)(\s+\S+)?", text):
                assert match.group(1).strip(" []") in log_formats, (verb, match.group(0))


def test_tsv_escapes_instead_of_quoting_and_times_are_rfc3339(one_db: Path) -> None:
    sql = (
        "SELECT 'x' || chr(9) || 'y' AS tab, 'l1' || chr(10) || 'l2' AS newline, 'a\\b' AS backslash,"
        " fields, NULL AS nothing, true AS yes, ts,"
        " TIMESTAMPTZ '2024-05-01 12:00:00.5+02' AS other, TIMESTAMP '2024-05-01 10:00:00' AS naive,"
        " count(*) OVER () AS count FROM logs"
    )
    result = run_cli("query", "--db", str(one_db), "--tsv", sql)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "tab\tnewline\tbackslash\tfields\tnothing\tyes\tts\tother\tnaive\tcount",
        'x\\ty\tl1\\nl2\ta\\\\b\t{"code":7}\t\ttrue\t2024-05-01T10:00:00.123Z'
        "\t2024-05-01T10:00:00.500Z\t2024-05-01T10:00:00.000\t1",
    ]


@pytest.mark.slow
def test_times_are_written_one_way_by_parse_query_and_status(tmp_path: Path, one_db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text('{"ts":"2024-05-01T10:00:00.123456Z","level":"error","msg":"one"}\n')
    parsed = json.loads(run_cli("parse", str(log)).stdout)
    queried = json.loads(run_cli("query", "--db", str(one_db), "--nl", "SELECT ts FROM logs").stdout)
    table = run_cli("query", "--db", str(one_db), "--table", "SELECT ts FROM logs").stdout
    status = json.loads(run_cli("status", "--db", str(one_db), "--json").stdout)
    assert parsed["ts"] == queried["ts"] == status["first_ts"] == "2024-05-01T10:00:00.123Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", parsed["received_at"])
    assert "│ 2024-05-01T10:00:00.123Z │" in table


@pytest.mark.slow
def test_the_alerts_line_counts_the_alerts_table_rows(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    result = run_cli("ingest", "sample_logs/", "--db", str(db), cwd=REPO)
    assert result.returncode == 0, result.stderr
    states = dict(query_db(db, "SELECT state, count(*) FROM alerts GROUP BY ALL"))
    assert states == {"firing": 3, "resolved": 1}
    line = next(line for line in result.stderr.splitlines() if line.startswith("logscope: alerts:"))
    assert line == (
        "logscope: alerts: 4 alerts (3 firing, 1 resolved), 5 notifications"
        " (see `logscope query 'FROM alerts'`)"
    )


def test_backtest_columns_and_summary(tmp_path: Path) -> None:
    result = run_cli("rules", "backtest", "--rule", "web_5xx_burst", "rules/", "sample_logs/", cwd=REPO)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "at\tevent\trule\tseverity\tgroup\tcount\tsummary"
    assert [line.split("\t")[:3] for line in lines[1:]] == [
        ["2026-11-20T14:06:30.000Z", "firing", "web_5xx_burst"],
        ["2026-11-20T14:08:02.000Z", "resolved", "web_5xx_burst"],
    ]
    assert result.stderr == "logscope: backtest: 1,282 lines, 1 alert fired, 2 notifications\n"


def test_status_format_text_is_the_report_with_a_note(one_db: Path) -> None:
    old, new = (
        run_cli("status", "--db", str(one_db), "--format", "text"),
        run_cli("status", "--db", str(one_db)),
    )
    assert old.returncode == new.returncode == 0
    assert old.stderr == "logscope: warning: --format text is deprecated; leave it out (it is the default)\n"
    assert old.stdout.splitlines()[:3] == new.stdout.splitlines()[:3]


@pytest.mark.parametrize(
    "args",
    [["compare", "--marker", "1"], ["mark", "deploy"], ["patterns"], ["markers"], ["vacuum"], ["status"]],
)
def test_verbs_that_need_a_database_file_refuse_an_in_memory_one(args: list[str]) -> None:
    result = run_cli(*args, "--db", ":memory:")
    assert_clean_error(result, 2)
    assert result.stderr.strip() == (
        f"logscope: error: {args[0]}: an in-memory database holds nothing between runs; give --db PATH"
    )
