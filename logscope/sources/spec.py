"""Turn source arguments (paths, directories, globs, `-`, socket URLs, `cmd:`) into sources."""

from __future__ import annotations

import glob
import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from logscope.record import Checkpoint
from logscope.sources.base import Source
from logscope.sources.readers import FileReader, StdinReader, StreamReader, is_stream_path

if TYPE_CHECKING:  # the watcher is imported where a source is followed (`query FILE` follows none)
    from logscope.sources.tail.source import TailSource

GLOB_CHARS = frozenset("*?[")
NETWORK_SCHEMES = ("tcp://", "udp://", "unix://", "unixgram://", "otlp://", "cmd:", "cmd+restart:")


@dataclass
class FollowOptions:
    """How sources are read in follow mode (`ingest --follow`, `tail`)."""

    # Where to start a file never seen before: its beginning, or its current end. Files that
    # appear while following are always read from their beginning. docs/tailing.md has the rest.
    from_start: bool = True
    # Checkpoints stored in the database (store/checkpoints.py loads them): where to resume.
    checkpoints: list[Checkpoint] = field(default_factory=list)
    # Seconds between full rescans and stats: the safety net for events inotify does not deliver.
    poll_seconds: float = 1.0
    # A last line without a newline is emitted on its own after the file is quiet this long.
    partial_flush_seconds: float = 5.0
    # A renamed or deleted file is read until it has been quiet this long, then closed.
    rotate_wait_seconds: float = 5.0
    # Open file handles kept at most; quiet files beyond it are closed and reopened on change.
    max_open_files: int = 256
    # Growth of open files is noticed by an fstat sweep this often; None: by inotify write events
    # (lower latency, but about a fifth of a core at 1,000 writes/s). Appearing, moving and
    # vanishing files are always noticed by inotify events.
    growth_sweep_seconds: float | None = 0.05
    # Files never followed, by path prefix: the database itself and its companions (`.wal`,
    # `.sock`), so following the directory that holds it cannot feed it its own bytes.
    ignore_prefixes: tuple[str, ...] = ()
    # The one follow-mode file source all file arguments share (so no file is read twice).
    tail_source: TailSource | None = field(default=None, repr=False)

    def ignores(self, path: str) -> bool:
        """Whether `path` is one of the files never followed (`ignore_prefixes`)."""
        return is_ignored(path, self.ignore_prefixes)


def is_ignored(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether the absolute `path` starts with one of `prefixes` (the database's own files)."""
    return bool(prefixes) and os.path.abspath(path).startswith(prefixes)


@dataclass
class Expansion:
    """The sources found for a list of arguments, one error line per argument that failed, and
    one warning line per path a directory or glob holds that is not read (not a regular file)."""

    sources: list[Source] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def expand_files(argument: str, skipped: list[str] | None = None) -> list[str]:
    """The regular files an argument names: itself, a directory's files (recursively), or a glob.

    FIFOs and character devices are read as streams only when an argument names one itself; the
    other paths a directory or glob holds that are not regular files (dangling symbolic links,
    FIFOs, sockets, devices) are not read, each said in `skipped` (one line naming the path)."""
    skipped = [] if skipped is None else skipped
    if any(char in GLOB_CHARS for char in argument):
        matches = glob.glob(argument, recursive=True)
        return [path for path in sorted(matches) if _is_regular(path, skipped)]
    if os.path.isdir(argument):
        found = []
        for root, dirs, files in os.walk(argument):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            paths = (os.path.join(root, name) for name in sorted(files) if not name.startswith("."))
            # Only regular files: a FIFO or device inside a directory is never waited on.
            found.extend(path for path in paths if _is_regular(path, skipped))
        return found
    return [argument]


def _is_regular(path: str, skipped: list[str]) -> bool:
    """Whether `path` is (a link to) a regular file; if not, and not a directory, say why in
    `skipped`."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            skipped.append(f"{path}: skipped: a dangling symbolic link (to {os.readlink(path)})")
        return False
    except OSError as exc:
        skipped.append(f"{path}: skipped: {exc.strerror or exc}")
        return False
    if stat.S_ISREG(mode):
        return True
    if not stat.S_ISDIR(mode):  # a glob matching directories is not worth a line
        skipped.append(f"{path}: skipped: {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}")
    return False


_KINDS = {
    stat.S_IFIFO: "a FIFO (name it on its own to read it as a stream)",
    stat.S_IFCHR: "a character device (name it on its own to read it as a stream)",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def is_network_spec(argument: str) -> bool:
    return argument.startswith(NETWORK_SCHEMES)


def network_source(argument: str) -> Source:
    """A listener or command source for `tcp://`, `udp://`, `unix://`, `unixgram://`, `otlp://`, `cmd:`.

    Listeners are bound here, before the pipeline starts: a port in use is a LogscopeError.
    """
    from logscope.sources.command import PREFIXES, CommandSource
    from logscope.sources.net import listener

    if argument.startswith(PREFIXES):
        return CommandSource(argument)
    if argument.startswith("otlp://"):  # OpenTelemetry logs over HTTP (sources/net/otlp.py)
        from logscope.sources.net.otlp import OtlpReceiver

        return OtlpReceiver(argument)
    return listener(argument)


def follow_files(argument: str, options: FollowOptions) -> Expansion:
    """Followers for the files an argument names now and later (globs, directories)."""
    from logscope.sources.tail.source import TailSource
    from logscope.sources.tail.watcher import Pattern

    result = Expansion()
    root, _ = Pattern(argument).watch_root()
    if not os.path.isdir(root):
        result.errors.append(f"{argument}: no such directory: {root}")
        return result
    source = options.tail_source
    if source is None:
        source = options.tail_source = TailSource(options)
        result.sources.append(source)
    source.add(argument)
    if os.path.isdir(argument) or any(char in GLOB_CHARS for char in argument):
        expand_files(argument, result.skipped)  # what it holds now that is not followed, said once
    return result


def expand_sources(
    arguments: list[str], follow: FollowOptions | None = None, ignore_prefixes: tuple[str, ...] = ()
) -> Expansion:
    """Sources for the arguments: read once to the end, or followed when `follow` is given.

    Files whose absolute path starts with one of `ignore_prefixes` (the database and its `.wal`
    and `.sock`) are never read, even when a directory or glob holds them."""
    result = Expansion()
    for argument in arguments:
        if argument == "-":
            result.sources.append(StdinReader())
            continue
        if is_stream_path(argument):  # a FIFO or character device named on its own
            result.sources.append(StreamReader(argument, keep_open=follow is not None))
            continue
        if is_network_spec(argument):
            if follow is None:
                result.errors.append(f"{argument}: sockets and commands are read with --follow")
            else:
                result.sources.append(network_source(argument))
            continue
        if follow is not None:
            found = follow_files(argument, follow)
            result.sources += found.sources
            result.errors += found.errors
            result.skipped += found.skipped
            continue
        found_paths = expand_files(argument, result.skipped)
        paths = [path for path in found_paths if not is_ignored(path, ignore_prefixes)]
        if not found_paths:
            result.errors.append(f"{argument}: no files match")
        elif not paths and len(found_paths) == 1:
            result.errors.append(f"{argument}: is the database itself")
        for path in paths:
            if not os.path.exists(path):
                result.errors.append(f"{path}: No such file or directory")
            elif not os.access(path, os.R_OK):
                result.errors.append(f"{path}: Permission denied")
            else:
                result.sources.append(FileReader(path))
    return result
