"""`logscope parse`: JSON lines out, nothing stored, streaming as lines arrive."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env, run_cli


def test_parse_stdin_to_json_lines(tmp_path: Path) -> None:
    result = run_cli(
        "parse",
        input='{"ts":"2024-05-01T10:00:00Z","level":"warn","msg":"hi","k":1}\n'
        "level=info msg=x a=b\nfree text\n",
        env=cli_env(XDG_DATA_HOME=str(tmp_path)),
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["format"] for r in records] == ["json", "logfmt", "raw"]
    first = records[0]
    assert first["ts"] == "2024-05-01T10:00:00.000Z"
    assert (first["level"], first["message"], first["fields"], first["source"]) == (
        "warning",
        "hi",
        {"k": 1},
        "stdin",
    )
    assert records[1]["fields"] == {"a": "b"}
    assert records[2] == {**records[2], "message": "free text", "raw": "free text", "level": None}
    assert not list(tmp_path.rglob("*.duckdb")), "parse must not store anything"


def test_parse_files(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x=1 y=2\n")
    result = run_cli("parse", str(log))
    assert result.returncode == 0
    assert json.loads(result.stdout)["source"] == str(log)


@pytest.mark.slow
def test_parse_streams_each_line_before_input_ends() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "logscope", "parse"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=cli_env(),
    )
    assert process.stdin and process.stdout
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        for n in range(3):
            process.stdin.write(f"seq={n} msg=live\n".encode())
            process.stdin.flush()
            assert selector.select(timeout=10), "no output while the pipe is still open"
            line = process.stdout.readline()
            assert json.loads(line)["fields"] == {"seq": str(n)}
    finally:
        process.stdin.close()
        process.wait(10)
    assert process.returncode == 0


def test_parse_missing_file_reports_and_fails(tmp_path: Path) -> None:
    result = run_cli("parse", str(tmp_path / "nope.log"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"logscope: error: {tmp_path / 'nope.log'}: No such file or directory"
    assert os.path.exists(tmp_path)
