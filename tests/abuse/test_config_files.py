"""User files logscope reads besides logs and rules (format definitions, the lake config) that
are not UTF-8 or not TOML: one line naming the file and the line, a usage exit, no traceback."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO, assert_clean_error, cli_env, run_cli

LOG = str(REPO / "sample_logs" / "syslog")


def _one_error_line(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("logscope: error:")]
    return line


def _each_says(commands: list[list[str]], error: str) -> None:
    """Every command fails with a usage exit and `error` as its only error line."""
    for command in commands:
        result = run_cli(*command)
        assert_clean_error(result, 2)
        assert result.stderr.strip().splitlines() == [f"logscope: error: {error}"], command


def test_a_format_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    formats = tmp_path / "formats"
    formats.mkdir()
    bad = formats / "mine.toml"
    bad.write_bytes(b'[[format]]\nname = "mine"\ntitle = "caf\xe9"\n')
    commands = [
        ["ingest", "-q", "--db", str(tmp_path / "x.duckdb"), "--formats", str(formats), LOG],
        ["parse", "--formats", str(formats), LOG],
    ]
    _each_says(commands, f"{bad}: not valid UTF-8: byte 0xe9 on line 3 (TOML files are UTF-8)")


def test_a_lake_config_that_is_not_utf8_or_not_toml_names_its_line(tmp_path: Path) -> None:
    config = tmp_path / "logscope" / "config.toml"
    config.parent.mkdir()
    env = {**cli_env(), "XDG_CONFIG_HOME": str(tmp_path)}
    config.write_bytes(b'[lake.prod]\ncatalog = "postgresql://u@h/db"\n# \xff\n')
    result = run_cli("lake", "status", "prod", env=env)
    assert_clean_error(result, 1)
    expected = f"{config}: not valid UTF-8: byte 0xff on line 3 (TOML files are UTF-8)"
    assert _one_error_line(result.stderr) == f"logscope: error: {expected}"
    config.write_text('[lake.prod]\ncatalog = "postgresql://u@h/db\n')
    result = run_cli("lake", "status", "prod", env=env)
    assert_clean_error(result, 1)
    assert _one_error_line(result.stderr).startswith(f"logscope: error: {config}: not valid TOML: ")
    assert "(at line 2, column" in result.stderr


def test_one_problem_in_a_rule_file_is_one_line_for_the_verbs_that_run_rules(tmp_path: Path) -> None:
    rules = tmp_path / "broken.toml"
    rules.write_text('[[rule]]\nname = "x\nwhere = "true"\n')
    commands = [
        ["ingest", "-q", "--db", str(tmp_path / "x.duckdb"), "--rules", str(rules), LOG],
        ["rules", "backtest", str(rules), LOG],
    ]
    _each_says(commands, f"{rules}: not valid TOML: Illegal character '\\n' (at line 2, column 10)")
