"""The follow-mode file source: every file the arguments name, now and later, read exactly once."""

from __future__ import annotations

import errno
import os
import stat
import time
from typing import TYPE_CHECKING

from logscope.record import Checkpoint
from logscope.sources.base import SourceContext
from logscope.sources.tail.follower import TURN_BYTES, Follower, read_compressed, read_gzip_rest
from logscope.sources.tail.identity import (
    CheckpointBook,
    FileId,
    is_gzip,
    matches,
    moved,
    read_gzip_head,
    read_head,
)
from logscope.sources.tail.rotated import head_of, last_line_end, rotated_siblings
from logscope.sources.tail.watcher import Pattern, Watcher

if TYPE_CHECKING:
    from logscope.sources.spec import FollowOptions


class TailSource:
    """Follows files, globs and directories; handles rotation; resumes from stored checkpoints."""

    name = "files"
    # Its batches are named after each file it follows; it has no figures of its own.
    reports_per_file = True

    def __init__(self, options: FollowOptions) -> None:
        self.options = options
        self.patterns: list[Pattern] = []
        self.book = CheckpointBook(list(options.checkpoints))
        self.watcher = Watcher(write_events=options.growth_sweep_seconds is None)
        self.by_path: dict[str, Follower] = {}  # absolute path -> the follower reading it
        self.by_id: dict[FileId, Follower] = {}
        self.by_event_path: dict[str, Follower] = {}  # path and symlink target -> live follower
        self.detached: list[Follower] = []
        self.compressed_done: dict[str, tuple[FileId, int, int]] = {}
        self.rotated_later: dict[str, str] = {}  # rotated files to resume once they settle
        self.empty_new: dict[str, str] = {}  # absolute path -> path of new files still empty
        self.reported: set[str] = set()
        self.ctx: SourceContext | None = None

    def add(self, argument: str) -> None:
        self.patterns.append(Pattern(argument))

    def size_hint(self) -> int | None:
        return None

    def catch_up_files(self) -> list[str]:
        """The plain files the arguments name now whose unread part can be imported in bulk
        before following starts (`book` then says where to go on): every one when new files are
        read from the start, else those read before."""
        found: dict[FileId, str] = {}
        for pattern in self.patterns:
            for path in pattern.files():
                if self.options.ignores(path) or is_gzip(path):
                    continue
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                file_id = FileId.of(info)
                if not stat.S_ISREG(info.st_mode) or info.st_size == 0 or file_id in found:
                    continue
                if not os.access(path, os.R_OK):
                    continue  # the follower reports it (once)
                if self.options.from_start or self.book.knows(file_id, head_of(path)):
                    found[file_id] = path
        return list(found.values())

    # --- the loop ---------------------------------------------------------------------------

    def run(self, ctx: SourceContext) -> None:
        self.ctx = ctx
        try:
            for pattern in self.patterns:
                root, deep = pattern.watch_root()
                self.watcher.watch(root, deep)
            self.watcher.start()
            self._report_watch_failures()
            self._discover(initial=True)
            self._recover_rotated()
            self._loop(ctx)
        finally:
            self.watcher.stop()
            for follower in [*self.by_id.values(), *self.detached]:
                follower.close()

    def _loop(self, ctx: SourceContext) -> None:
        sweep_every = self.options.growth_sweep_seconds
        # The first rescan comes soon: watchdog sets its inotify watches in its own thread, so a
        # file created just after the first look may have slipped past both.
        next_poll = time.monotonic() + min(self.options.poll_seconds, 0.2)
        next_sweep = time.monotonic() + (sweep_every or 0.0)
        more = set(self.by_path.values())  # to read now: just found, or stopped at their budget
        while not ctx.stop.is_set():
            changed, appeared = self.watcher.take()
            now = time.monotonic()
            polling = now >= next_poll
            if polling:
                next_poll = now + self.options.poll_seconds
            sweeping = sweep_every is not None and now >= next_sweep
            if sweeping:
                next_sweep = now + sweep_every
                changed |= self._grown_paths()
            if polling:
                self.empty_new.clear()  # the rescan finds those still there (and still empty)
            if appeared or polling:
                self._discover(initial=False)
            for path in changed & self.empty_new.keys():
                self._track(self.empty_new.pop(path), initial=False)
            if polling and self.rotated_later:
                for path, name in list(self.rotated_later.items()):
                    if self._resume_rotated(path, name):
                        del self.rotated_later[path]
            due = list(self.by_path.values()) if polling else self._changed_followers(changed, more)
            more = set()
            for follower in due:
                if not follower.detached and self._check(follower):
                    more.add(follower)
            for follower in list(self.detached):
                if self._check_detached(follower):
                    more.add(follower)
            self._flush_quiet_partials()
            if not more:
                next_wake = min(next_poll, next_sweep) if sweep_every is not None else next_poll
                self.watcher.wake.wait(min(max(0.0, next_wake - time.monotonic()), 0.25))

    def _grown_paths(self) -> set[str]:
        """The sweep: open files that grew (one fstat each), and new empty files that got bytes.

        Cheaper than one inotify event per write: at 1,000 writes/s the events cost about a fifth
        of a core, the sweep next to nothing (docs/tailing.md).
        """
        grown = set()
        for path, follower in self.by_path.items():
            try:
                if follower.fd is not None and os.fstat(follower.fd).st_size != follower.position:
                    grown.add(path)
            except OSError:
                grown.add(path)
        for path in list(self.empty_new):
            try:
                if os.stat(path).st_size > 0:
                    grown.add(path)
            except OSError:
                del self.empty_new[path]  # gone before it had a byte
        return grown

    def _changed_followers(self, changed: set[str], more: set[Follower]) -> list[Follower]:
        """The live followers an event named (by path or symlink target), and those with more."""
        due = {self.by_event_path[path] for path in changed if path in self.by_event_path}
        due |= {follower for follower in more if not follower.detached}
        return list(due)

    # --- finding files ----------------------------------------------------------------------

    def _discover(self, initial: bool) -> None:
        for pattern in self.patterns:
            for path in pattern.files():
                if os.path.abspath(path) not in self.by_path:
                    self._track(path, initial)

    def _track(self, path: str, initial: bool, name: str | None = None) -> Follower | None:
        """Start following the file at `path`, unless its content is already being read."""
        if self.options.ignores(path):
            return None
        fd = self._open(path)
        if fd is None:
            return None
        info = os.fstat(fd)
        file_id = FileId.of(info)
        if not stat.S_ISREG(info.st_mode) or file_id in self.by_id:
            os.close(fd)
            return None
        if info.st_size == 0 and not initial and name is None:
            # A file just created has no first bytes to recognize it by: it may be a copy being
            # written (copytruncate) of content read before. Its first write wakes us again.
            os.close(fd)
            self.empty_new[os.path.abspath(path)] = path
            return None
        if is_gzip(path):
            os.close(fd)
            self._read_compressed(path, file_id, info, name or path)
            return None
        head = read_head(fd)
        checkpoint = self._checkpoint_for(path, fd, file_id, head, info.st_size, initial)
        if checkpoint is None:
            os.close(fd)
            return None
        stored = self.book.stored(checkpoint.key)
        follower = Follower(path, name or path, file_id, checkpoint, self.book, fd)
        self.by_path[os.path.abspath(path)] = follower
        self.by_id[file_id] = follower
        self.by_event_path[os.path.abspath(path)] = follower
        self.by_event_path[os.path.realpath(path)] = follower
        if checkpoint.offset >= info.st_size and checkpoint != stored:
            follower.emit_checkpoint(self._context())  # nothing to read yet: record it now
        self._watch_target(path)
        self._limit_open_files(keep=follower)
        return follower

    def _checkpoint_for(
        self, path: str, fd: int, file_id: FileId, head: bytes, size: int, initial: bool
    ) -> Checkpoint | None:
        """Where to read this content from: its stored checkpoint, else its start or end."""
        found, busy = self.book.resume(file_id, head, size)
        if busy:
            return None
        if found is not None:
            return found
        from_end = initial and not self.options.from_start and not self._followed_before(path)
        return self.book.start(file_id, head, last_line_end(fd, size) if from_end else 0)

    def _followed_before(self, path: str) -> bool:
        """Whether a rotated sibling holds content read before: then `path` is not new to us.

        A file that replaced a followed one while logscope was stopped is read from its start,
        even with --from-end, so no line written meanwhile is skipped.
        """
        for sibling in rotated_siblings(path):
            try:
                file_id = FileId.of(os.stat(sibling))
            except OSError:
                continue
            head = read_gzip_head(sibling) if is_gzip(sibling) else head_of(sibling)
            if self.book.knows(file_id, head):
                return True
        return False

    def _recover_rotated(self) -> None:
        """Read what a restart would otherwise miss: the unread end of files rotated meanwhile."""
        for follower in list(self.by_path.values()):
            for path in rotated_siblings(follower.path):
                if os.path.abspath(path) in self.by_path:
                    continue
                if not self._resume_rotated(path, follower.name):
                    self.rotated_later[path] = follower.name

    def _resume_rotated(self, path: str, name: str) -> bool:
        """Read the rest of a rotated file whose content was read before; False: try again later."""
        try:
            info = os.stat(path)
        except OSError:
            return True
        file_id = FileId.of(info)
        if file_id in self.by_id or not stat.S_ISREG(info.st_mode):
            return True
        if is_gzip(path):
            if time.time() - info.st_mtime < self.options.rotate_wait_seconds:
                return False
            head = read_gzip_head(path)
        else:
            head = head_of(path)
        found, busy = self.book.claim(file_id, head, by_content=True)
        if busy:
            return False
        if found is None:
            return True
        self.book.release(found.key)
        if is_gzip(path):
            return self._read_compressed(path, file_id, info, name)
        follower = self._track(path, initial=False, name=name)
        if follower is not None:
            self._detach(follower)
        return True

    def _read_compressed(self, path: str, file_id: FileId, info: os.stat_result, name: str) -> bool:
        """A gzip file is read once: from its checkpoint when its content was read before.

        False when it is not time yet (still being written, or its content is being read).
        """
        seen = (file_id, info.st_size, info.st_mtime_ns)
        if self.compressed_done.get(path) == seen:
            return True
        if time.time() - info.st_mtime < self.options.rotate_wait_seconds:
            return False  # still being written (logrotate compressing): a later poll reads it whole
        ctx = self._context()
        if not read_compressed(path, name, file_id, self.book, ctx, self._report) or ctx.stop.is_set():
            return False
        self.compressed_done[path] = seen
        return True

    # --- reading and rotation ---------------------------------------------------------------

    def _check(self, follower: Follower) -> bool:
        """Read what a live follower's file has new; notice rotation. True if it has more."""
        try:
            info = os.stat(follower.path)
        except FileNotFoundError:
            self._detach(follower)
            return False
        except OSError as exc:
            self._report(follower.path, f"{follower.path}: {exc.strerror or exc}", follower.name)
            return False
        if FileId.of(info) != follower.file_id:
            self._detach(follower)
            self._track(follower.path, initial=False)
            return True
        if follower.fd is None:
            if info.st_size == follower.position:
                return False
            if not self._reopen(follower):
                return False
        return self._read(follower)

    def _read(self, follower: Follower) -> bool:
        ctx = self._context()
        try:
            if follower.replaced_in_place():
                self._restart_content(follower)
            return follower.read_available(ctx) >= TURN_BYTES
        except OSError as exc:
            self._report(follower.path, f"{follower.path}: {exc.strerror or exc}", follower.name)
            return False

    def _restart_content(self, follower: Follower) -> None:
        """The file was truncated (in place or by copytruncate): finish the old content, start anew.

        With copytruncate the old content's rest is in the copy: it is read from there.
        """
        ctx = self._context()
        self._read_rotated_copy(follower)
        follower.flush_partial(ctx)
        self.book.release(follower.key)
        head = read_head(follower.fd) if follower.fd is not None else b""
        follower.restart(self.book.start(follower.file_id, head))

    def _read_rotated_copy(self, follower: Follower) -> None:
        ctx = self._context()
        for path in rotated_siblings(follower.path):
            try:
                info = os.stat(path)
            except OSError:
                continue
            if FileId.of(info) == follower.file_id or FileId.of(info) in self.by_id:
                continue
            compressed = is_gzip(path)
            head = read_gzip_head(path) if compressed else head_of(path)
            if not matches(follower.checkpoint.fingerprint, head):
                continue
            follower.checkpoint = moved(follower.checkpoint, FileId.of(info))
            if compressed:
                damage = read_gzip_rest(path, follower, ctx)
                if damage:
                    self._report(path, damage, follower.name)
            else:
                follower.read_other(ctx, path)
            return

    def _check_detached(self, follower: Follower) -> bool:
        """Keep reading a renamed or deleted file until it has been quiet for a while, then close."""
        busy = False
        if follower.fd is not None:
            try:
                busy = follower.read_available(self._context()) >= TURN_BYTES
            except OSError as exc:
                self._report(follower.path, f"{follower.path}: {exc.strerror or exc}", follower.name)
        quiet = time.monotonic() - follower.last_growth
        if not busy and (follower.fd is None or quiet >= self.options.rotate_wait_seconds):
            self._finish(follower)
        return busy

    def _detach(self, follower: Follower) -> None:
        self.by_path.pop(os.path.abspath(follower.path), None)
        for path in [p for p, f in self.by_event_path.items() if f is follower]:
            del self.by_event_path[path]
        follower.detached = True
        # Quiet is counted from now: a file idle before it was renamed may still get late lines.
        follower.last_growth = time.monotonic()
        if follower.fd is None and not self._reopen_moved(follower):
            self._finish(follower)
            return
        self.detached.append(follower)

    def _finish(self, follower: Follower) -> None:
        if follower.fd is not None and not self._context().stop.is_set():
            follower.flush_partial(self._context())
        follower.close()
        if follower in self.detached:
            self.detached.remove(follower)
        if self.by_id.get(follower.file_id) is follower:
            del self.by_id[follower.file_id]
        self.book.release(follower.key)

    def _flush_quiet_partials(self) -> None:
        limit = self.options.partial_flush_seconds
        now = time.monotonic()
        for follower in self.by_path.values():
            if follower.splitter.pending_bytes and now - follower.last_growth >= limit:
                follower.flush_partial(self._context())

    # --- file handles -----------------------------------------------------------------------

    def _open(self, path: str) -> int | None:
        try:
            # O_NONBLOCK: a FIFO that a directory or glob holds must not block the open (it is
            # closed below, not being a regular file); a regular file's reads ignore the flag.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                self._out_of_handles()
            else:
                self._report(path, f"{path}: {exc.strerror or exc}", path)
            return None
        self.reported.discard(path)
        return fd

    def _out_of_handles(self) -> None:
        """The process or system ran out of file handles: keep fewer open (said once)."""
        open_now = sum(1 for f in [*self.by_path.values(), *self.detached] if f.fd is not None)
        limit = max(8, open_now - 16)
        if limit < self.options.max_open_files:
            self.options.max_open_files = limit
            self._report(
                "too many open files",
                f"too many open files: following with at most {limit} files open at once",
            )
            lru = sorted((f for f in self.by_path.values() if f.fd is not None), key=lambda f: f.last_used)
            for follower in lru[: max(0, open_now - limit)]:
                follower.close()

    def _reopen(self, follower: Follower) -> bool:
        """Reopen a follower whose handle was closed to stay under the open-file limit."""
        fd = self._open(follower.path)
        if fd is None:
            return False
        if FileId.of(os.fstat(fd)) != follower.file_id:
            os.close(fd)
            return False
        follower.fd = fd
        self._limit_open_files(keep=follower)
        return True

    def _reopen_moved(self, follower: Follower) -> bool:
        """Find a closed follower's file under its rotated name, and open it there."""
        for path in rotated_siblings(follower.path):
            try:
                if FileId.of(os.stat(path)) != follower.file_id:
                    continue
            except OSError:
                continue
            fd = self._open(path)
            if fd is not None:
                follower.fd = fd
                return True
        return False

    def _limit_open_files(self, keep: Follower) -> None:
        """Close the handles of the least recently active live files beyond the limit."""
        open_live = [f for f in self.by_path.values() if f.fd is not None and f is not keep]
        excess = len(open_live) + 1 + len(self.detached) - self.options.max_open_files
        if excess <= 0:
            return
        open_live.sort(key=lambda f: f.last_used)
        for follower in open_live[:excess]:
            follower.close()

    def _watch_target(self, path: str) -> None:
        """A symlink's target may live elsewhere: watch its directory too."""
        target_dir = os.path.dirname(os.path.realpath(path))
        if target_dir != os.path.dirname(os.path.abspath(path)):
            self.watcher.watch(target_dir, False)
            self._report_watch_failures()

    def _report_watch_failures(self) -> None:
        while self.watcher.failures:
            self._context().report_error(self.watcher.failures.pop(0))

    def _report(self, key: str, message: str, source: str | None = None) -> None:
        """Report once per `key`; `source`: the followed file whose error count it is."""
        if key not in self.reported:
            self.reported.add(key)
            self._context().report_error(message, source)

    def _context(self) -> SourceContext:
        assert self.ctx is not None
        return self.ctx
