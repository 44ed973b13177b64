"""`logscope completion bash|zsh|fish`: the shell's tab completion, answered by argcomplete.

The script a shell sources calls `logscope` back with `_ARGCOMPLETE` set; `complete` builds the
parser of the verb being typed (only that one, as for a run) and argcomplete answers from it:
verbs, options, output formats, and the completers below for log formats, rules and tables.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any

SHELLS = ("bash", "zsh", "fish")
# The tables every database has (store/schema.py); each log format also has a view of its name.
TABLES = ("logs", "alerts", "stats", "checkpoints", "meta")
_TABLE_BEFORE = re.compile(r"(?:^|\s)(?:from|join)\s+(\S*)$", re.IGNORECASE)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print the shell completion script for bash, zsh or fish",
        description="Print the script that makes the shell complete logscope's commands, options,"
        " output and log formats, rule names and table names. Load it from the shell's startup"
        " file (docs/cli.md).",
        epilog="examples:\n"
        '  eval "$(logscope completion bash)"                 # in ~/.bashrc\n'
        '  eval "$(logscope completion zsh)"                  # in ~/.zshrc\n'
        "  logscope completion fish > ~/.config/fish/completions/logscope.fish",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["logscope"], shell=args.shell))
    return 0


def complete(build_parser: Callable[[str | None], argparse.ArgumentParser], verb_of) -> None:
    """Answer the shell's completion request (argcomplete's protocol) and exit."""
    import os

    import argcomplete

    line = os.environ.get("COMP_LINE", "")
    line = line[: int(os.environ.get("COMP_POINT") or len(line))]
    words = line.split()[1:]
    typing_verb = len(words) <= 1 and not line.endswith(" ")
    verb = None if typing_verb else verb_of(words)
    argcomplete.autocomplete(build_parser(verb), always_complete_options=False)
    sys.exit(0)  # argcomplete exits itself; this is for a line it had nothing to say about


# --- completers, set on the options that take these names -------------------------------------


def log_format_names(**_: Any) -> list[str]:
    """The log formats logscope knows (built-in and the user's)."""
    from logscope.parsing.registry import load_registry
    from logscope.parsing.time_values import resolve_zone

    return [parser.name for parser in load_registry(resolve_zone("UTC")).ordered]


def rule_names(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    """The rules in the file or folder already on the line, else the bundled ones."""
    from logscope.alerting.loader import builtin_rules_dir, load_paths

    path = getattr(parsed_args, "rules", None)
    paths = [path] if isinstance(path, str) else list(path or []) or [str(builtin_rules_dir())]
    return sorted({rule.name for rule in load_paths(paths).rules})


def table_names() -> list[str]:
    return [*TABLES, *log_format_names()]


def sql_completions(prefix: str, **_: Any) -> list[str]:
    """Table names after FROM or JOIN; `FROM <table>` to start a statement (DuckDB's FROM-first)."""
    if not prefix.strip():
        return [f"FROM {name}" for name in table_names()]
    match = _TABLE_BEFORE.search(prefix)
    if match is None:
        return []
    start = prefix[: len(prefix) - len(match.group(1))]
    return [start + name for name in table_names() if name.startswith(match.group(1))]
