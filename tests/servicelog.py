"""A generated service log in JSON lines for the pattern tests: known templates, known counts."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
EARLY_USERS = ("alice", "bob")  # the first half: two user names, a word that stays a word
LATE_USERS = ("carol", "dave", "erin", "frank")  # then enough names for a variable


def _message(rng: random.Random, late: bool) -> tuple[str, str, str]:
    """(template, level, message) of one line."""
    users = EARLY_USERS + (LATE_USERS if late else ())
    choice = rng.randrange(7 if late else 6)
    if choice == 0:
        user = rng.choice(users)
        ip = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"
        return "user <*> logged in from <*>", "info", f"user {user} logged in from {ip}"
    if choice == 1:
        return (
            "GET /api/items/<*> took <*>",
            "info",
            f"GET /api/items/{rng.randrange(9999)} took {rng.randrange(900)}ms",
        )
    if choice == 2:
        return "cache miss for key <*>", "debug", f"cache miss for key user:{rng.randrange(10**5)}"
    if choice == 3:
        return "connection reset by peer", "warning", "connection reset by peer"
    if choice == 4:
        code = f"{rng.randrange(16**8):08x}-{rng.randrange(16**4):04x}-4abc-8def-{rng.randrange(16**12):012x}"
        return (
            "payment <*> declined: insufficient funds",
            "error",
            f"payment {code} declined: insufficient funds",
        )
    if choice == 5:
        event = rng.choice(("Started", "Paused"))
        return f"VM {event} (Lifecycle Event)", "info", f"VM {event} (Lifecycle Event)"
    path = f"/var/lib/app/shard{rng.randrange(40)}/data.db"
    return (
        "schema migration <*> failed on <*>",
        "error",
        f"schema migration {rng.randrange(500)} failed on {path}",
    )


def service_log(path: Path, lines: int = 3000, seed: int = 7) -> tuple[list[str], Counter[str], datetime]:
    """Write the log; returns its templates (one per line), their counts, and the time its second
    half (where the late templates and names appear) starts."""
    rng = random.Random(seed)
    templates: list[str] = []
    with open(path, "w", encoding="utf-8") as out:
        for number in range(lines):
            late = number >= lines // 2
            template, level, message = _message(rng, late)
            when = START + timedelta(seconds=number)
            record = {"time": when.isoformat().replace("+00:00", "Z"), "level": level, "msg": message}
            out.write(json.dumps(record) + "\n")
            templates.append(template)
    return templates, Counter(templates), START + timedelta(seconds=lines // 2)
