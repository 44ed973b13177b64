"""Shell completion in real bash, zsh and fish; --help that loads nothing heavy and ends with real
examples (issue 23, items 8 and 9). Start-up time itself is measured in docs/benchmarks.md."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, cli_env, run_cli

from logscope.cli import VERBS

BIN = Path(sys.executable).parent
HEAVY = ("duckdb", "pyarrow", "rich", "textual", "regex", "logscope.alerting", "logscope.pipeline")


def shell_env() -> dict[str, str]:
    return cli_env(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")


def needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (.ci/run installs it)")


def bash_complete(line: str) -> list[str]:
    """What bash offers for `line` (cursor at its end), through the script the CLI prints."""
    if line.count("'") % 2:  # inside a quote, as bash splits it: the quoted part is one word
        words = [*line[: line.rindex("'")].split(), line[line.rindex("'") :]]
    else:
        words = line.split() + ([""] if line.endswith(" ") else [])
    script = (
        "source <(logscope completion bash)\n"
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(word) for word in words)}); COMP_CWORD={len(words) - 1}\n"
        "_python_argcomplete logscope; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=shell_env(), timeout=60, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    return [item.strip() for item in result.stdout.splitlines() if item.strip()]


@pytest.mark.slow
def test_bash_completes_verbs_options_formats_rules_and_tables() -> None:
    assert sorted(bash_complete("logscope pa")) == ["parse", "patterns"]
    assert bash_complete("logscope par") == ["parse"]
    assert bash_complete("logscope sta") == ["status"]
    assert bash_complete("logscope query --n") == ["--nl"]
    assert bash_complete("logscope query --m") == ["--markdown"]
    assert bash_complete("logscope parse --format nginx_") == ["nginx_access", "nginx_error"]
    assert bash_complete("logscope rules backtest --rule web_5xx_") == ["web_5xx_burst", "web_5xx_ratio"]
    assert bash_complete("logscope formats show bsd_") == ["bsd_syslog"]
    assert bash_complete("logscope query 'FROM al") == ["FROM alerts"]
    assert bash_complete("logscope query 'SELECT * FROM logs JOIN stat") == ["SELECT * FROM logs JOIN stats"]
    assert bash_complete("logscope completion ") == ["bash", "zsh", "fish"]


@pytest.mark.slow
def test_fish_completes_with_descriptions() -> None:
    needs("fish")
    script = (
        "logscope completion fish | source\n"
        "complete -C 'logscope pa'; complete -C 'logscope query --cs';"
        " complete -C 'logscope rules backtest --rule oom'"
    )
    result = subprocess.run(
        ["fish", "-c", script], capture_output=True, text=True, env=shell_env(), timeout=60, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"parse\t{VERBS['parse']}",
        f"patterns\t{VERBS['patterns']}",
        "--csv\tcomma-separated values with a header row",
        "oom_killer",
    ]


ZSH_SESSION = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PROMPT="> "; autoload -U compinit; compinit -u; source <(logscope completion zsh); print RE""ADY'
zpty -r -m z line '*READY*'
zpty -n -w z $'logscope rules backtest --rule web_5\t'
seen=""
for i in {1..100}; do
  if zpty -r -t z chunk; then seen+=$chunk; fi
  [[ $seen == *web_5xx_ratio* ]] && break
  (( i == 20 )) && zpty -n -w z $'\t'   # a second Tab lists what the first could not insert
  sleep 0.1
done
zpty -d z
print -r -- "$seen" | grep -o 'web_5xx_[a-z]*' | sort -u
"""


@pytest.mark.slow
def test_zsh_completes_in_an_interactive_shell() -> None:
    needs("zsh")
    result = subprocess.run(
        ["zsh", "-f", "-c", ZSH_SESSION], capture_output=True, text=True, env=shell_env(), timeout=60
    )
    assert result.stdout.split() == ["web_5xx_", "web_5xx_burst", "web_5xx_ratio"], result.stderr


@pytest.mark.parametrize("args", [["--help"], ["parse", "--help"], ["completion", "bash"]])
def test_help_imports_no_database_arrow_rules_or_ui(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "logscope", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert not {name for name in imported if name.split(".")[0] in HEAVY or name.startswith(HEAVY)}


def examples_of(verb: str) -> list[str]:
    text = run_cli(verb, "--help").stdout
    assert "\nexamples:\n" in text, verb
    return [line.strip() for line in text.split("\nexamples:\n", 1)[1].splitlines() if line.strip()]


@pytest.mark.parametrize("verb", VERBS)
def test_every_verbs_help_ends_with_two_or_three_examples(verb: str) -> None:
    examples = examples_of(verb)
    assert 2 <= len(examples) <= 3, examples
    assert all(
        re.match(r"(\S+ .*\| )?logscope |duckdb |eval |journalctl |kubectl |tail ", line) for line in examples
    )


RUNNABLE = ("query", "parse", "formats", "rules", "status")


@pytest.mark.parametrize("verb", RUNNABLE)
@pytest.mark.slow
def test_the_examples_run(verb: str, tmp_path: Path) -> None:
    """The examples that need only the repository's files run, against the sample logs."""
    db = tmp_path / "x.duckdb"
    env = shell_env() | {"LOGSCOPE_DB": str(db)}
    ingest = subprocess.run(["logscope", "ingest", "-q", "sample_logs/"], env=env, cwd=REPO, timeout=120)
    assert ingest.returncode == 0
    for example in examples_of(verb):
        command = example.split("  #", 1)[0]
        if "jq " in command and shutil.which("jq") is None:
            command = command.split(" | jq", 1)[0]
        if any(name in command for name in ("access.log", "my-rules", "alerts.csv", "tail -f")):
            continue  # a file of the reader's, or a command that runs until stopped
        result = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout, command
