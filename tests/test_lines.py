"""LineSplitter: byte streams into lines, with offsets, caps and replacement of bad bytes."""

from __future__ import annotations

import random

from logscope.sources.lines import LineSplitter


def feed_all(splitter: LineSplitter, chunks: list[bytes]) -> tuple[list[str], list]:
    lines: list[str] = []
    extras: list = []
    for chunk in chunks:
        got, got_extras = splitter.feed(chunk)
        lines += got
        extras += got_extras or [None] * len(got)
    got, got_extras = splitter.flush()
    return lines + got, extras + (got_extras or [None] * len(got))


def test_lines_survive_any_chunking() -> None:
    data = b"alpha\r\nbeta\n\ngamma \xe2\x82\xac euro\ndelta-no-newline"
    expected = ["alpha", "beta", "", "gamma \u20ac euro", "delta-no-newline"]
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(0, 6)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        splitter = LineSplitter()
        assert feed_all(splitter, chunks)[0] == expected
        assert splitter.offset == len(data)


def test_offsets_mark_line_starts_and_end() -> None:
    splitter = LineSplitter(track_offsets=True, offset=100)
    lines, _ = splitter.feed(b"ab\ncde\nf")
    assert lines == ["ab", "cde"]
    assert splitter.last_offsets == [100, 103, 107]
    assert splitter.offset == 107
    lines, _ = splitter.feed(b"g\n")
    assert lines == ["fg"]
    assert splitter.last_offsets == [107, 110]


def test_overlong_line_is_capped_with_the_skipped_count() -> None:
    splitter = LineSplitter(max_line_bytes=10, track_offsets=True)
    chunks = [b"short\n", b"0123456789", b"ABCDEFGHIJ", b"KLM\nnext\n"]
    lines, extras = feed_all(splitter, chunks)
    assert lines == ["short", "0123456789", "next"]
    assert extras[1] == {"truncated": True, "truncated_bytes": 13}
    assert extras[0] is None and extras[2] is None
    assert splitter.offset == sum(map(len, chunks))


def test_overlong_line_inside_one_block() -> None:
    splitter = LineSplitter(max_line_bytes=8)
    lines, extras = splitter.feed(b"ok\n" + b"z" * 20 + b"\nend\n")
    assert lines == ["ok", "z" * 8, "end"]
    assert extras == [None, {"truncated": True, "truncated_bytes": 12}, None]


def test_overlong_unterminated_line_is_flushed_capped() -> None:
    splitter = LineSplitter(max_line_bytes=4)
    assert splitter.feed(b"abcdefgh") == ([], None)
    assert splitter.flush() == (["abcd"], [{"truncated": True, "truncated_bytes": 4}])
    assert splitter.offset == 8


def test_invalid_utf8_and_nul_are_replaced() -> None:
    splitter = LineSplitter()
    lines, _ = splitter.feed(b"a\x00b\n\xff\n")
    assert lines == ["a\ufffdb", "\ufffd"]
