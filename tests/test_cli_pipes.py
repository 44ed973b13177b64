"""The CLI in pipes and files, run by a real shell: a closed pipe is a quiet end, piped output is
complete and machine-readable, a missing file is one line (issue 23, items 1, 2 and 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, cli_env, run_cli

# Under pytest-xdist (--dist loadgroup) the whole module runs in one worker: one ingest of the samples (a
# module fixture) serves all its tests.
pytestmark = pytest.mark.xdist_group("cli_pipes")

BIN = Path(sys.executable).parent


@dataclass
class Piped:
    stdout: str
    stderr: str
    status: int  # logscope's own exit status, wherever it sits in the pipeline


def shell(command: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Piped:
    """Run `command` in bash with logscope on PATH; `$LS_STATUS` must receive logscope's status
    and its stderr go to ls.err (the helpers below write commands that way)."""
    environment = cli_env(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {}))
    script = f"{command}\necho ${{PIPESTATUS[0]}} > ls.status"
    completed = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=environment, capture_output=True, timeout=timeout
    )
    assert completed.returncode == 0, completed.stderr
    return Piped(
        completed.stdout.decode(),
        (cwd / "ls.err").read_text(),
        int((cwd / "ls.status").read_text()),
    )


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample logs ingested once, as the quickstart does (with the bundled rules)."""
    db = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    result = run_cli("ingest", "sample_logs/", "--db", str(db), cwd=REPO)
    assert result.returncode == 0, result.stderr
    return db


def big_jsonl(path: Path, count: int = 20_000) -> Path:
    lines = (
        json.dumps({"ts": f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "level": "info", "msg": f"m{i}"})
        for i in range(count)
    )
    path.write_text("\n".join(lines) + "\n")
    return path


# --- 1. a closed pipe is a normal end ----------------------------------------------------------


@pytest.mark.slow
def test_parse_file_into_head_exits_0_quietly(tmp_path: Path) -> None:
    log = big_jsonl(tmp_path / "app.jsonl")
    run = shell(f"logscope parse {log} 2>ls.err | head -1", tmp_path)
    assert (run.status, run.stderr) == (0, "")
    assert run.stdout.count("\n") == 1
    assert json.loads(run.stdout)["message"] == "m0"


@pytest.mark.slow
def test_parse_stdin_into_head_exits_0_quietly(tmp_path: Path) -> None:
    log = big_jsonl(tmp_path / "app.jsonl")
    run = shell(f"cat {log} | logscope parse 2>ls.err | head -1; echo ${{PIPESTATUS[1]}} > st", tmp_path)
    assert ((tmp_path / "st").read_text().strip(), run.stderr) == ("0", "")
    assert json.loads(run.stdout)["message"] == "m0"


@pytest.mark.slow
def test_parse_of_endless_input_into_head_ends(tmp_path: Path) -> None:
    command = 'yes \'{"msg": "again"}\' | logscope parse 2>ls.err | head -1; echo ${PIPESTATUS[1]} > st'
    run = shell(command, tmp_path, timeout=30)
    assert ((tmp_path / "st").read_text().strip(), run.stderr) == ("0", "")
    assert json.loads(run.stdout)["message"] == "again"


@pytest.mark.slow
def test_query_and_formats_into_head_exit_0_quietly(tmp_path: Path, sample_db: Path) -> None:
    run = shell(
        f"logscope query --db {sample_db} 'SELECT range AS n FROM range(2000000)' 2>ls.err | head -2",
        tmp_path,
    )
    assert (run.status, run.stderr, run.stdout) == (0, "", "n\n0\n")
    table = f"query --table --db {sample_db} 'SELECT range FROM range(100000)'"  # drawn by rich
    for verb in (
        f"query --nl --db {sample_db} 'FROM logs'",
        table,
        "formats list",
        f"status --db {sample_db}",
    ):
        run = shell(f"logscope {verb} 2>ls.err | head -1", tmp_path)
        # A table is cut at 1,000 rows (output.py), which may all fit in the pipe before `head`
        # leaves: then its note on the rows left out comes too.
        note = "logscope: the first 1,000 rows are shown; --tsv, --csv or --nl print all of them\n"
        assert (run.status, run.stderr.removeprefix(note if verb == table else "")) == (0, ""), verb
        assert run.stdout.count("\n") == 1


# --- 2. piped output is complete ---------------------------------------------------------------


@pytest.mark.slow
def test_piped_default_is_tsv_written_whole(tmp_path: Path, sample_db: Path) -> None:
    sql = "SELECT source, format, count(*) AS records FROM logs GROUP BY ALL ORDER BY ALL"
    run = shell(f'logscope query --db {sample_db} "{sql}" 2>ls.err > out.tsv', tmp_path)
    assert (run.status, run.stderr) == (0, "")
    assert (tmp_path / "out.tsv").read_text() == (
        "source\tformat\trecords\n"
        "sample_logs/app.jsonl\tjson\t445\n"
        "sample_logs/nginx_access.log\tnginx_access\t749\n"
        "sample_logs/syslog\tbsd_syslog\t33\n"
        "sample_logs/syslog\tcron\t32\n"
        "sample_logs/syslog\topenssh\t23\n"
    )


@pytest.mark.slow
def test_a_table_asked_for_in_a_pipe_is_not_cut(tmp_path: Path, sample_db: Path) -> None:
    sql = "SELECT rule, summary FROM alerts WHERE rule = 'web_5xx_ratio'"
    run = shell(f'logscope query --table --db {sample_db} "{sql}" 2>ls.err | cat', tmp_path)
    assert (run.status, run.stderr) == (0, "")
    assert "…" not in run.stdout
    summary = "15.9% of 364 requests failed with 5xx in 5m in sample_logs/nginx_access.log (limit 5.0%)"
    assert f"│ web_5xx_ratio │ {summary} │" in run.stdout.splitlines()


@pytest.mark.slow
def test_status_in_a_pipe_is_not_cut(tmp_path: Path, sample_db: Path) -> None:
    run = shell(f"logscope status --db {sample_db} 2>ls.err > status.txt", tmp_path)
    text = (tmp_path / "status.txt").read_text()
    assert (run.status, run.stderr) == (0, "")
    assert "…" not in text
    rows = [line for line in text.splitlines() if line.startswith("│ sample_logs/")]
    assert [row.split("│")[1].strip() for row in rows] == [
        "sample_logs/app.jsonl",
        "sample_logs/nginx_access.log",
        "sample_logs/syslog",
    ]
    assert all(row.split("│")[-2].strip() == "true" for row in rows)  # done


# --- 6. a missing file is one line -------------------------------------------------------------


@pytest.mark.parametrize("verb", [["ingest", "--db", "x.duckdb"], ["parse"]], ids=["ingest", "parse"])
def test_a_missing_file_is_one_line(tmp_path: Path, verb: list[str]) -> None:
    result = run_cli(*verb, "nosuch.log", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "logscope: error: nosuch.log: No such file or directory\n"
    assert result.stdout == ""


def test_a_missing_database_is_one_line(tmp_path: Path) -> None:
    for verb in (["query", "SELECT 1"], ["status"]):
        result = run_cli(*verb, "--db", "none.duckdb", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr == (
            "logscope: error: none.duckdb: no database here yet (run `logscope ingest` first)\n"
        )


@pytest.mark.slow
def test_query_over_files_ends_at_once_with_all_its_output_and_status(tmp_path: Path) -> None:
    """`query SQL FILE` ends without Python's finalization (cli.py `exit_at_once`): what it
    printed is still all written, into a file or a pipe, and the status is kept."""
    lines = [
        f'10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /{n} HTTP/1.1" 200 {n} "-" "c"' for n in range(30000)
    ]
    (tmp_path / "access.log").write_text("\n".join(lines) + "\n")
    run = shell(
        "logscope query --tsv 'SELECT raw FROM logs ORDER BY id' access.log 2>ls.err > out.tsv", tmp_path
    )
    assert (run.status, run.stderr) == (0, "")
    assert (tmp_path / "out.tsv").read_text().splitlines() == ["raw", *lines]
    run = shell("logscope query --tsv 'SELECT raw FROM logs' access.log 2>ls.err | head -1", tmp_path)
    assert (run.status, run.stderr, run.stdout) == (0, "", "raw\n")
    run = shell("logscope query 'SELECT * FROM nothing_here' access.log 2>ls.err", tmp_path)
    assert (
        run.status == 1
        and run.stderr.startswith("logscope: error: Catalog Error")
        and run.stderr.count("\n") == 1
    )
