"""The pattern miner on its own: masking, when words become variables, and a restarted miner."""

from __future__ import annotations

import random

import pytest

from logscope.patterns.masking import mask
from logscope.patterns.miner import Miner


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("connect from 203.0.113.79 port 5918", "connect from <*> port <*>"),
        ("request 3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b done", "request <*> done"),
        ("wrote 0x7ffde4a1 and ffffffff", "wrote <*> and <*>"),
        ("opened /var/lib/nova/instances/_base/a489c868f0", "opened <*>"),
        ("took 120ms, then 2.5 s", "took <*>, then <*>"),
        ("mail from alice@example.com rejected", "mail from <*> rejected"),
        ("at Wed Jul 27 10:59:53 2005 and 2017-05-16 00:00:00.008", "at <*> and <*>"),
        ("peer fe80:0:0:0:200:f8ff:fe21:67cf and 00:11:43:e3:ba:c3", "peer <*> and <*>"),
        ("resolved proxy.cse.cuhk.edu.hk:5070", "resolved <*>:<*>"),
        ("user=root uid=0 node-171", "user=root uid=<*> <*>"),
        ("1209 bytes (1.18 KB) sent, lifetime <1 sec", "<*> bytes (<*>) sent, lifetime <*>"),
        ("GET https://example.com/a?b=1 HTTP/1.1", "GET <*> <*>"),
        ("no variables here", "no variables here"),
    ],
)
def test_masking(message: str, masked: str) -> None:
    assert mask(message) == masked


def roots(miner: Miner, messages: list[str]) -> list[int]:
    return [miner.root(pattern_id) for pattern_id in miner.assign(messages)]


def test_a_word_that_differs_in_four_patterns_becomes_a_variable_under_the_oldest_id() -> None:
    miner = Miner()
    users = ["alice", "bob", "carol", "dave", "erin"]
    first = roots(miner, [f"Invalid user {user} from 10.0.0.{n}" for n, user in enumerate(users[:3])])
    assert len(set(first)) == 3  # three names could still be three different events
    after = roots(miner, [f"Invalid user {user} from 10.0.0.9" for user in users])
    assert set(after) == {first[0]}
    assert miner.patterns[first[0]].template == "Invalid user <*> from <*>"
    before = len(miner.patterns)
    assert roots(miner, ["Invalid user zed from 10.0.0.1"]) == [first[0]]
    assert len(miner.patterns) == before  # a new name joins without a new pattern


def test_few_distinct_words_and_short_messages_stay_apart() -> None:
    miner = Miner()
    events = [
        f"[instance: {n}] VM {e} (Lifecycle Event)"
        for n in range(3)
        for e in ("Started", "Paused", "Stopped")
    ]
    assert len(set(roots(miner, events))) == 3
    states = ["normal", "warning", "running", "blocked", "unknown", "configured out"]
    assert len(set(roots(miner, states))) == len(states)


def test_a_key_keeps_its_name_when_its_value_becomes_a_variable() -> None:
    miner = Miner()
    ids = roots(
        miner, [f"authentication failure; rhost=<*> user={u}" for u in ("root", "admin", "guest", "test")]
    )
    assert len(set(ids)) == 1
    assert miner.patterns[ids[0]].template.endswith("user=<*>")
    # ... so a message without the key is still another pattern
    assert roots(miner, ["authentication failure; rhost=10.1.1.1"]) != ids[:1]


def test_optional_variable_parts_do_not_split_a_pattern() -> None:
    miner = Miner()
    ids = roots(
        miner,
        [
            "t12.baidu.com:80 close, 0 bytes sent, 0 bytes received, lifetime 00:17",
            "q1.cnzz.com:80 close, 1209 bytes (1.18 KB) sent, 1314 bytes (1.28 KB) received, lifetime <1 sec",
            "synchronized to 10.100.20.250, stratum 3",
            "synchronized to LOCAL(0), stratum 10",
        ],
    )
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def _state(miner: Miner) -> list[tuple[int, list[str], int | None]]:
    """What the patterns table keeps of each pattern."""
    return [(p.id, [" ".join(shape) for shape in p.shapes], p.merged_into) for p in miner.patterns.values()]


def _messages(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    kinds = [
        lambda: f"user {rng.choice(words)} logged in from 10.0.0.{rng.randrange(255)}",
        lambda: f"job {rng.randrange(99)} finished in {rng.randrange(900)}ms",
        lambda: f"worker {rng.choice(words)} state {rng.choice(['idle', 'busy'])}",
        lambda: f"cache {rng.choice(words)} evicted {rng.randrange(50)} keys",
        lambda: "connection reset by peer",
    ]
    return [rng.choice(kinds)() for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_miner_loaded_from_its_state_goes_on_as_if_never_stopped(seed: int) -> None:
    messages = _messages(3000, seed)
    continuous = Miner()
    expected = [continuous.root(pattern_id) for pattern_id in continuous.assign(messages)]
    got: list[int] = []
    miner = Miner()
    rng = random.Random(seed)
    position = 0
    while position < len(messages):
        block = messages[position : position + rng.randrange(1, 400)]
        got_block = miner.assign(block)
        miner = Miner.load(_state(miner))  # a restart after every block
        got.extend(got_block)
        position += len(block)
    assert [miner.root(pattern_id) for pattern_id in got] == expected
    assert _state(miner) == _state(continuous)


def test_beyond_the_most_patterns_kept_apart_new_kinds_share_the_catch_all() -> None:
    miner = Miner(max_patterns=5)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    kinds = [f"{word} failed" for word in words]  # too short for the word to become a variable
    ids = roots(miner, kinds)
    assert len(set(ids[:5])) == 5
    assert len(set(ids[5:])) == 1 and miner.patterns[ids[5]].template == "<*>"
    assert roots(miner, ["charlie failed"]) == [ids[2]]  # known kinds still find theirs
    assert len(miner.patterns) == 6
