"""DuckDB's own allocator: give the pages it has freed back to the system (docs/benchmarks.md).

DuckDB's Linux builds link a jemalloc of their own (its symbols prefixed `duckdb_je_`), apart
from glibc's malloc (so `mallinfo2` does not see it). jemalloc keeps freed pages for up to a
second (its decay time) and DuckDB flushes it only on its worker threads after a task
(`allocator_flush_threshold`), which a bulk import, run on one DuckDB thread, never starts: in
a million-line import, 50-200 MB of freed DuckDB pages stayed resident beside the 150-180 MB
it had in use. `purge` hands them back, at a cost in proportion to what it returns (340 MB in
44 ms, nothing in 0.01 ms), as the decay would later; without that jemalloc (another platform or
build) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache

_SIZE = ctypes.c_size_t
_MALLCTL_ARENAS_ALL = 4096  # jemalloc's "every arena" index (MALLCTL_ARENAS_ALL)


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


def resident_bytes() -> int | None:
    """Bytes of memory DuckDB's allocator holds in RAM (in use or freed and kept), or None."""
    mallctl = _mallctl()
    if mallctl is None:
        return None
    epoch, size = ctypes.c_uint64(1), _SIZE(ctypes.sizeof(ctypes.c_uint64))
    mallctl(b"epoch", ctypes.byref(epoch), ctypes.byref(size), ctypes.byref(epoch), size.value)
    value, size = _SIZE(), _SIZE(ctypes.sizeof(_SIZE))
    if mallctl(b"stats.resident", ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        return None
    return value.value
