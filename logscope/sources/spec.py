"""Turn source arguments (paths, directories, globs, `-`, socket URLs, `cmd:`) into sources."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from logscope.sources.base import Source
from logscope.sources.readers import FileReader, StdinReader

GLOB_CHARS = frozenset("*?[")
NETWORK_SCHEMES = ("tcp://", "udp://", "unix://", "unixgram://", "cmd:")


@dataclass
class Expansion:
    """The sources found for a list of arguments, and one error line per argument that failed."""

    sources: list[Source] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def expand_files(argument: str) -> list[str]:
    """The regular files an argument names: itself, a directory's files (recursively), or a glob."""
    if any(char in GLOB_CHARS for char in argument):
        matches = glob.glob(argument, recursive=True)
        return sorted(path for path in matches if os.path.isfile(path))
    if os.path.isdir(argument):
        found = []
        for root, dirs, files in os.walk(argument):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, name) for name in sorted(files) if not name.startswith("."))
        return found
    return [argument]


def is_network_spec(argument: str) -> bool:
    return argument.startswith(NETWORK_SCHEMES)


def expand_sources(arguments: list[str]) -> Expansion:
    """Sources for one-shot reading: each file once, stdin for `-`."""
    result = Expansion()
    for argument in arguments:
        if argument == "-":
            result.sources.append(StdinReader())
            continue
        if is_network_spec(argument):
            result.errors.append(f"{argument}: sockets and commands are read with --follow")
            continue
        paths = expand_files(argument)
        if not paths:
            result.errors.append(f"{argument}: no files match")
        for path in paths:
            if not os.path.exists(path):
                result.errors.append(f"{path}: No such file or directory")
            elif not os.access(path, os.R_OK):
                result.errors.append(f"{path}: Permission denied")
            else:
                result.sources.append(FileReader(path))
    return result
