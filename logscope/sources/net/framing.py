"""Cut a stream connection into messages: newline-delimited, or RFC 6587 octet counting.

The framing is detected once per connection from its first bytes: `123 <` (a length, a space and a
syslog PRI) means octet counting; anything else is newline-delimited, where a NUL also ends a
message (Python's SysLogHandler over TCP ends each message with one).
"""

from __future__ import annotations

import re
from typing import Any

from logscope.sources.lines import LineSplitter

Extras = list[dict[str, Any] | None] | None

# The most one message may hold; a longer one is cut and marked (`truncated`, `truncated_bytes`).
MAX_MESSAGE_BYTES = 64 * 1024

_OCTET_START = re.compile(rb"[1-9][0-9]{0,9} <")
_OCTET_HEADER = re.compile(rb"([1-9][0-9]{0,9}) ")
# What the start of an octet-counted connection looks like before its `<` has arrived.
_OCTET_PREFIX = re.compile(rb"[1-9][0-9]{0,9}(?: )?")
_BLANKS = b"\r\n\x00 "


def decode_message(data: bytes) -> str:
    """A message as text: invalid UTF-8 and NULs replaced, trailing newline or NUL removed."""
    text = data.decode("utf-8", "replace").rstrip("\r\n\x00")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


class StreamFramer:
    """Feed a connection's bytes in, get whole messages (and per-message extras) out."""

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self.mode: str | None = None  # "newline" or "octet-counting" once detected
        self._lines = LineSplitter(max_line_bytes=max_message_bytes)
        self._buffer = bytearray()
        self._skip = 0  # octet counting: bytes of an overlong message still to discard

    @property
    def pending_bytes(self) -> int:
        """Bytes held for a message that has not ended yet."""
        return len(self._buffer) + self._lines.pending_bytes

    def feed(self, data: bytes) -> tuple[list[str], Extras]:
        """The messages `data` completes, with extras for the ones that were cut."""
        if self.mode is None:
            self._buffer += data
            if not self._detect():
                return [], None
            data, self._buffer = bytes(self._buffer), bytearray()
        if self.mode == "newline":
            return self._feed_lines(data)
        self._buffer += data
        return self._take_frames()

    def flush(self) -> tuple[list[str], Extras]:
        """What is held when the connection ends: the last unterminated line, or a partial frame."""
        if self.mode is None:
            self.mode = "newline"
            data, self._buffer = bytes(self._buffer), bytearray()
            lines, extras = self._feed_lines(data)
        else:
            lines, extras = [], None
        if self.mode == "newline":
            tail, tail_extras = self._lines.flush()
            if tail == [""]:
                tail, tail_extras = [], None
            return _join(lines, extras, tail, tail_extras)
        rest = bytes(self._buffer).lstrip(_BLANKS)
        self._buffer.clear()
        if not rest:
            return [], None
        header = _OCTET_HEADER.match(rest)
        body = rest[header.end() :] if header else rest
        return [decode_message(body[: self.max_message_bytes])], [{"incomplete": True}]

    def _detect(self) -> bool:
        buffer = self._buffer
        if not buffer:
            return False
        if _OCTET_START.match(buffer):
            self.mode = "octet-counting"
        elif not _OCTET_PREFIX.fullmatch(buffer):
            self.mode = "newline"
        return self.mode is not None

    def _feed_lines(self, data: bytes) -> tuple[list[str], Extras]:
        if b"\x00" in data:
            data = data.replace(b"\x00", b"\n")
        lines, extras = self._lines.feed(data)
        if "" not in lines:
            return lines, extras
        if extras is None:
            return [line for line in lines if line], None
        kept = [(line, extra) for line, extra in zip(lines, extras, strict=True) if line]
        return [line for line, _ in kept], [extra for _, extra in kept]

    def _take_frames(self) -> tuple[list[str], Extras]:
        buffer = self._buffer
        limit = self.max_message_bytes
        messages: list[str] = []
        extras: list[dict[str, Any] | None] = []
        position = 0
        while position < len(buffer):
            if self._skip:
                skipped = min(self._skip, len(buffer) - position)
                self._skip -= skipped
                position += skipped
                continue
            while position < len(buffer) and buffer[position] in _BLANKS:
                position += 1
            header = _OCTET_HEADER.match(buffer, position)
            if header is None:
                found = self._take_garbage(position, messages, extras)
                if found == position:
                    break
                position = found
                continue
            length = int(header.group(1))
            start = header.end()
            end = start + length
            if end <= len(buffer):
                messages.append(decode_message(bytes(buffer[start:end])))
                extras.append(None)
                position = end
            elif length > limit and len(buffer) - start >= limit:
                messages.append(decode_message(bytes(buffer[start : start + limit])))
                extras.append({"truncated": True, "truncated_bytes": length - limit})
                self._skip = length - limit
                position = start + limit
            else:
                break
        del buffer[:position]
        return messages, extras if any(extras) else None

    def _take_garbage(self, position: int, messages: list[str], extras: list[dict[str, Any] | None]) -> int:
        """Bytes that are not a frame header: kept as one message up to the next newline."""
        buffer = self._buffer
        if _OCTET_HEADER.match(buffer[position : position + 11] + b" ") and b" " not in buffer[position:]:
            return position  # a header still arriving
        end = buffer.find(b"\n", position)
        if end < 0:
            if len(buffer) - position <= self.max_message_bytes:
                return position
            end = position + self.max_message_bytes
        text = decode_message(bytes(buffer[position:end]))
        if text:
            messages.append(text)
            extras.append({"framing_error": True})
        return end + 1 if end < len(buffer) and buffer[end : end + 1] == b"\n" else end


def _join(lines: list[str], extras: Extras, more: list[str], more_extras: Extras) -> tuple[list[str], Extras]:
    if extras is None and more_extras is None:
        return lines + more, None
    left = extras if extras is not None else [None] * len(lines)
    right = more_extras if more_extras is not None else [None] * len(more)
    return lines + more, left + right
