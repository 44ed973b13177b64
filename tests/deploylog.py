"""A generated service log with a deploy in the middle: after it, a new error message appears
and the error rate doubles (the `compare` and `changed_after_marker` tests). Two variants tell
the two findings apart: MORE_OF_OLD doubles the rate with the old error alone (nothing new),
NEW_INSTEAD replaces the old error by the new one at the same rate (nothing more)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 11, 20, 14, 0, 0, tzinfo=UTC)
STEP = timedelta(milliseconds=500)
ENDPOINTS = ("/items", "/cart", "/checkout", "/search")
NEW_ERROR = "upstream timeout calling inventory after <*>"
OLD_ERROR = "payment <*> declined: insufficient funds"
NEW_AND_MORE, MORE_OF_OLD, NEW_INSTEAD = "new and more", "more of the old", "new instead"


@dataclass
class DeployLog:
    path: Path
    deploy_at: datetime  # the event time of the first line after the deploy
    errors_before: int
    lines_before: int
    errors_after: int
    lines_after: int
    first_new_error: datetime | None  # event time of the first line of the new message


def _line(
    rng: random.Random, when: datetime, version: str, after: bool, change: str
) -> tuple[dict, bool, bool]:
    """(record, is an error, is the new error)."""
    endpoint = rng.choice(ENDPOINTS)
    roll = rng.random()
    base = {"time": when.isoformat().replace("+00:00", "Z"), "version": version, "endpoint": endpoint}
    if roll < 0.05:  # the old error, the same share before and after
        if after and change == NEW_INSTEAD:
            return _new_error(rng, base), True, True
        return _old_error(rng, base), True, False
    if after and roll < 0.10 and change != NEW_INSTEAD:  # the deploy's errors: as many again
        if change == MORE_OF_OLD:
            return _old_error(rng, base), True, False
        return _new_error(rng, base), True, True
    if roll < 0.55:
        took = rng.randrange(900)
        return (
            {**base, "level": "info", "msg": f"GET {endpoint}/{rng.randrange(9999)} took {took}ms"},
            False,
            False,
        )
    if roll < 0.80:
        return (
            {
                **base,
                "level": "info",
                "msg": f"user u{rng.randrange(500)} from 10.0.{rng.randrange(256)}.{rng.randrange(9)}",
            },
            False,
            False,
        )
    return {**base, "level": "debug", "msg": f"cache miss for key item:{rng.randrange(10**5)}"}, False, False


def _old_error(rng: random.Random, base: dict) -> dict:
    payment = f"{rng.randrange(16**8):08x}"
    return {**base, "level": "error", "msg": f"payment {payment} declined: insufficient funds"}


def _new_error(rng: random.Random, base: dict) -> dict:
    """The deploy's new error, all on /checkout."""
    took = rng.randrange(3000, 9000)
    return {
        **base,
        "endpoint": "/checkout",
        "level": "error",
        "msg": f"upstream timeout calling inventory after {took}ms",
    }


def deploy_log(path: Path, lines: int = 4000, seed: int = 11, change: str = NEW_AND_MORE) -> DeployLog:
    """Write `lines` JSON lines, version 2.2 for the first half and 2.3 (the deploy) after."""
    rng = random.Random(seed)
    half = lines // 2
    counts = {"errors_before": 0, "errors_after": 0}
    first_new: datetime | None = None
    with open(path, "w", encoding="utf-8") as out:
        for number in range(lines):
            after = number >= half
            when = START + number * STEP
            record, error, new = _line(rng, when, "2.3" if after else "2.2", after, change)
            counts["errors_after" if after else "errors_before"] += error
            if new and first_new is None:
                first_new = when
            out.write(json.dumps(record) + "\n")
    assert (first_new is None) == (change == MORE_OF_OLD)
    return DeployLog(
        path,
        START + half * STEP,
        counts["errors_before"],
        half,
        counts["errors_after"],
        lines - half,
        first_new,
    )


def steady_log(
    path: Path, lines: int, seed: int, start: datetime = START, step: timedelta = STEP * 2
) -> None:
    """A source that does not change at the deploy: 5% errors throughout."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for number in range(lines):
            when = start + number * step
            level = "error" if rng.random() < 0.05 else "info"
            msg = (
                f"job {rng.randrange(999)} failed: disk quota"
                if level == "error"
                else f"job {rng.randrange(999)} done in {rng.randrange(60)}s"
            )
            out.write(
                json.dumps({"time": when.isoformat().replace("+00:00", "Z"), "level": level, "msg": msg})
                + "\n"
            )
