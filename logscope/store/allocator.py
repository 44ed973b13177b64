"""DuckDB's own allocator: give the pages it has freed back to the system (docs/benchmarks.md).

DuckDB's Linux builds link a jemalloc of their own (its symbols prefixed `duckdb_je_`), apart
from glibc's malloc (so `mallinfo2` does not see it). jemalloc keeps freed pages for a decay
time (a second) measured only while that arena allocates, and DuckDB flushes it only on its
worker threads after a task (`allocator_flush_threshold`, 128 MiB): a `tail` following a file
kept 10-20 MB of freed DuckDB pages resident beside the ~18 MB it had in use ("Following next
to lnav", sixth round). `purge` hands them back, at a cost in proportion to what it returns
(340 MB in 44 ms, nothing in 0.01 ms); without that jemalloc (another platform or build) it
does nothing.
"""

from __future__ import annotations

import ctypes
import sys
import time
from collections.abc import Callable
from functools import cache

_SIZE = ctypes.c_size_t
_MALLCTL_ARENAS_ALL = 4096  # jemalloc's "every arena" index (MALLCTL_ARENAS_ALL)


@cache
def _mallctl():  # -> the C function, or None
    """DuckDB's `mallctl`, if its native module exports one (cached: the module is loaded first)."""
    import duckdb  # noqa: F401  (loads the native module)

    module = sys.modules.get("_duckdb") or sys.modules.get("duckdb.duckdb")
    path = getattr(module, "__file__", None)
    if path is None:
        return None
    try:
        function = ctypes.CDLL(path).duckdb_je_mallctl
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(_SIZE), ctypes.c_void_p, _SIZE]
    function.restype = ctypes.c_int
    return function


def available() -> bool:
    """Whether DuckDB's allocator can be told to purge (DuckDB's Linux builds)."""
    return _mallctl() is not None


def purge() -> bool:
    """Give DuckDB's freed pages back to the system now; False if there is no such allocator."""
    mallctl = _mallctl()
    if mallctl is None:
        return False
    return mallctl(f"arena.{_MALLCTL_ARENAS_ALL}.purge".encode(), None, None, None, 0) == 0


def resident_bytes() -> int | None:
    """Bytes of memory DuckDB's allocator holds in RAM (in use or freed and kept), or None."""
    return stat("resident")


def stat(name: str) -> int | None:
    """jemalloc's `stats.<name>` in bytes, refreshed now (allocated, active, metadata, resident,
    mapped, retained), or None without that allocator."""
    mallctl = _mallctl()
    if mallctl is None:
        return None
    epoch, size = ctypes.c_uint64(1), _SIZE(ctypes.sizeof(ctypes.c_uint64))
    mallctl(b"epoch", ctypes.byref(epoch), ctypes.byref(size), ctypes.byref(epoch), size.value)
    value, size = _SIZE(), _SIZE(ctypes.sizeof(_SIZE))
    if mallctl(f"stats.{name}".encode(), ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        return None
    return value.value


def purging_every(seconds: float) -> Callable[[], None]:
    """A hook that purges when called, at most once every `seconds` (a commit hook)."""
    last = -seconds

    def purge_if_due() -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= seconds:
            last = now
            purge()

    return purge_if_due
