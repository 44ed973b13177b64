"""A lower CPU priority for threads whose work must not slow down the work beside it."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

# Niceness steps of a low-priority engine: 5, 10 and 19 gave the import the same room (300,000
# nginx lines, 50 rules: +16-17% wall against +23% at the same priority); 5 starves it least.
NICER = 5


def lower_thread_priority() -> None:
    """Run the calling thread (and the threads it starts) at a lower CPU priority, `NICER` steps
    (on Linux, where it is per thread), so that the work it overlaps and must not slow down (an
    import) goes first. It cannot be raised again, so it is mild: on a machine that other
    processes keep busy, the thread still gets about a third of its share."""
    if sys.platform == "linux":
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):
            nice = min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICER)
            os.setpriority(os.PRIO_PROCESS, thread, nice)
