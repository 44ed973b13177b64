"""Stream framing: newline vs RFC 6587 octet counting, detected per connection, with a size cap."""

from __future__ import annotations

import pytest

from logscope.errors import LogscopeError
from logscope.sources.net.address import parse_listen_spec
from logscope.sources.net.framing import StreamFramer


def feed_all(framer: StreamFramer, chunks: list[bytes]) -> tuple[list[str], list]:
    messages: list[str] = []
    marks: list = []
    for chunk in chunks:
        lines, extras = framer.feed(chunk)
        messages += lines
        marks += extras or [None] * len(lines)
    lines, extras = framer.flush()
    return messages + lines, marks + (extras or [None] * len(lines))


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def octet(message: str) -> bytes:
    body = message.encode()
    return f"{len(body)} ".encode() + body


def test_newline_framing_with_crlf_nul_and_blank_lines() -> None:
    framer = StreamFramer()
    data = b"<13>first\r\n\n<14>second\x00<15>third\x00\nlast without newline"
    messages, marks = feed_all(framer, [data[:7], data[7:20], data[20:]])
    assert framer.mode == "newline"
    assert messages == ["<13>first", "<14>second", "<15>third", "last without newline"]
    assert marks == [None] * 4


def test_octet_counting_keeps_newlines_inside_a_message_and_survives_any_split() -> None:
    stream = octet("<13>1 - h app - - - line one\nline two") + octet("<14>short") + b"\n" + octet("<15>x")
    for chunks in ([stream], byte_by_byte(stream)):
        framer = StreamFramer()
        messages, _ = feed_all(framer, chunks)
        assert framer.mode == "octet-counting"
        assert messages == ["<13>1 - h app - - - line one\nline two", "<14>short", "<15>x"]


def test_lines_that_start_with_digits_stay_newline_framed() -> None:
    framer = StreamFramer()
    messages, _ = feed_all(framer, [b"2026-01-01 10:00:00 started\n", b"123 apples\n"])
    assert framer.mode == "newline"
    assert messages == ["2026-01-01 10:00:00 started", "123 apples"]


def test_overlong_messages_are_cut_and_marked_in_both_framings() -> None:
    framer = StreamFramer(max_message_bytes=10)
    messages, marks = feed_all(framer, [b"<13>" + b"a" * 30 + b"\n<13>ok\n"])
    assert messages == ["<13>aaaaaa", "<13>ok"]
    assert marks[0] == {"truncated": True, "truncated_bytes": 24} and marks[1] is None

    framer = StreamFramer(max_message_bytes=10)
    long = octet("<13>" + "b" * 30)
    messages, marks = feed_all(framer, [*byte_by_byte(long), octet("<14>ok")])
    assert messages == ["<13>bbbbbb", "<14>ok"]
    assert marks == [{"truncated": True, "truncated_bytes": 24}, None]
    assert framer.pending_bytes == 0


def test_octet_counting_holds_no_more_than_the_cap_for_a_huge_announced_length() -> None:
    framer = StreamFramer(max_message_bytes=1000)
    lines, _ = framer.feed(b"999999999 <13>" + b"z" * 5000)
    assert len(lines) == 1 and len(lines[0]) == 1000
    assert framer.pending_bytes == 0


def test_garbage_between_frames_is_kept_as_a_marked_message_and_framing_resumes() -> None:
    framer = StreamFramer()
    stream = octet("<13>good") + b"\xff\xfenot a frame\n" + octet("<14>again")
    messages, marks = feed_all(framer, [stream])
    assert messages == ["<13>good", "\ufffd\ufffdnot a frame", "<14>again"]
    assert marks == [None, {"framing_error": True}, None]


def test_a_frame_cut_off_by_disconnect_is_kept_as_incomplete() -> None:
    framer = StreamFramer()
    messages, marks = feed_all(framer, [octet("<13>whole"), b"50 <13>only part"])
    assert messages == ["<13>whole", "<13>only part"]
    assert marks == [None, {"incomplete": True}]


def test_listener_specs() -> None:
    spec = parse_listen_spec("tcp://:5140")
    assert (spec.scheme, spec.host, spec.port) == ("tcp", "127.0.0.1", 5140)
    assert parse_listen_spec("udp://[::1]:514").host == "::1"
    assert parse_listen_spec("udp://0.0.0.0:514").host == "0.0.0.0"
    assert parse_listen_spec("unix:///run/app.sock").path == "/run/app.sock"
    assert parse_listen_spec("unixgram://rel.sock?max_message=8k").max_message_bytes == 8192
    for bad in (
        "tcp://127.0.0.1",
        "tcp://host:99999",
        "unix://",
        "tcp://:1?size=3",
        "udp://:1?max_message=0",
    ):
        with pytest.raises(LogscopeError):
            parse_listen_spec(bad)


def test_unix_socket_left_by_a_dead_process_is_replaced_but_a_live_one_is_not(tmp_path) -> None:
    import os
    import socket

    from logscope.sources.spec import network_source

    path = tmp_path / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays behind, nobody listens
    listener = network_source(f"unix://{path}")
    assert os.stat(path).st_mode & 0o777 == 0o600
    with pytest.raises(LogscopeError, match="another program is listening"):
        network_source(f"unix://{path}")
    listener._unix.remove()
    assert not path.exists()
