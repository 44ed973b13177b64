"""DuckDB's own allocator: give the pages it has freed back to the system (docs/benchmarks.md).

DuckDB's Linux builds link a jemalloc of their own (its symbols prefixed `duckdb_je_`), apart
from glibc's malloc (so `mallinfo2` does not see it). jemalloc keeps freed pages for up to a
second (its decay time) and DuckDB flushes it only on its worker threads after a task
(`allocator_flush_threshold`), which a bulk import, run on one DuckDB thread, never starts: in
a million-line import, 40-200 MB of freed DuckDB pages stayed resident beside the 150-180 MB
it had in use. `trim` hands them back once more than `SLACK_BYTES` are kept: a purge costs in
proportion to what it returns (340 MB in 44 ms), and pages handed back are faulted in again
when DuckDB reuses them (purging after every block cost 0.5-1 CPU-s more per million lines),
so it is not done for less. Without that jemalloc (another platform or build) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache

_SIZE = ctypes.c_size_t
_MALLCTL_ARENAS_ALL = 4096  # jemalloc's "every arena" index (MALLCTL_ARENAS_ALL)
SLACK_BYTES = 64 << 20  # freed pages kept before `trim` purges


@cache
def _mallctl():  # -> the C function, or None
    """DuckDB's `mallctl`, if its native module exports one."""
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
    import duckdb  # noqa: F401  (loads the native module)

    return _mallctl() is not None


def purge() -> bool:
    """Give DuckDB's freed pages back to the system now; False if there is no such allocator."""
    mallctl = _mallctl()
    if mallctl is None:
        return False
    return mallctl(f"arena.{_MALLCTL_ARENAS_ALL}.purge".encode(), None, None, None, 0) == 0


def trim(slack: int = SLACK_BYTES) -> bool:
    """Purge if DuckDB's allocator keeps more than `slack` bytes of freed pages; whether it did."""
    stats = _stats("resident", "allocated")
    if stats is None or stats[0] - stats[1] <= slack:
        return False
    return purge()


def resident_bytes() -> int | None:
    """Bytes of memory DuckDB's allocator holds in RAM (in use or freed and kept), or None."""
    stats = _stats("resident")
    return None if stats is None else stats[0]


def _stats(*names: str) -> list[int] | None:
    """jemalloc's `stats.<name>` figures, refreshed now (None without that jemalloc)."""
    mallctl = _mallctl()
    if mallctl is None:
        return None
    epoch, size = ctypes.c_uint64(1), _SIZE(ctypes.sizeof(ctypes.c_uint64))
    mallctl(b"epoch", ctypes.byref(epoch), ctypes.byref(size), ctypes.byref(epoch), size.value)
    values = []
    for name in names:
        value, size = _SIZE(), _SIZE(ctypes.sizeof(_SIZE))
        if mallctl(f"stats.{name}".encode(), ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
            return None
        values.append(value.value)
    return values
