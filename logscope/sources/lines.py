"""Split a byte stream into text lines: invalid UTF-8 and NULs replaced, overlong lines capped."""

from __future__ import annotations

from typing import Any

from logscope.record import MAX_LINE_BYTES

REPLACEMENT = "\ufffd"

Extras = list[dict[str, Any] | None]


class LineSplitter:
    """Feed bytes in, get complete lines out.

    `offset` is the byte position just after the last complete line (a checkpoint position).
    With `track_offsets`, `last_offsets` holds the start offset of every line returned by the
    last `feed`/`flush` plus the end offset (len(lines) + 1 entries).
    A line longer than `max_line_bytes` is cut to that size; the rest, up to its newline, is
    skipped and counted in the line's extras (`truncated`, `truncated_bytes`).
    """

    def __init__(
        self, max_line_bytes: int = MAX_LINE_BYTES, offset: int = 0, track_offsets: bool = False
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.offset = offset
        self.track_offsets = track_offsets
        self.last_offsets: list[int] = []
        self._pending = bytearray()
        self._overflow = 0  # bytes of the current (capped) line skipped beyond the cap

    @property
    def pending_bytes(self) -> int:
        """Bytes read for a line that has not ended yet."""
        return len(self._pending) + self._overflow

    def feed(self, data: bytes) -> tuple[list[str], Extras | None]:
        """Lines completed by `data`, and per-line extras (None unless a line was capped)."""
        lines: list[str] = []
        extras: Extras | None = None
        offsets = [self.offset]
        if self._overflow:
            end = data.find(b"\n")
            if end < 0:
                self._overflow += len(data)
                self.last_offsets = offsets
                return lines, extras
            self._overflow += end
            line, extra = self._finish_capped(1)
            lines.append(line)
            extras = [extra]
            offsets.append(self.offset)
            data = data[end + 1 :]
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending += data
            if len(self._pending) > self.max_line_bytes:
                self._overflow = len(self._pending) - self.max_line_bytes
                del self._pending[self.max_line_bytes :]
            self.last_offsets = offsets
            return lines, extras
        block = bytes(self._pending) + data[: cut + 1] if self._pending else data[: cut + 1]
        self._pending = bytearray(data[cut + 1 :])
        if self.track_offsets:
            offsets.extend(_line_ends(block, self.offset))
        self.offset += len(block)
        block_lines = _decode_lines(block)
        if len(block) > self.max_line_bytes:
            capped = self._cap_lines(block_lines)
            if capped is not None:
                extras = (extras or []) + capped
        if extras is not None and len(extras) < len(lines) + len(block_lines):
            extras += [None] * (len(lines) + len(block_lines) - len(extras))
        lines += block_lines
        if len(self._pending) > self.max_line_bytes:
            self._overflow = len(self._pending) - self.max_line_bytes
            del self._pending[self.max_line_bytes :]
        self.last_offsets = offsets if self.track_offsets else []
        return lines, extras

    def flush(self) -> tuple[list[str], Extras | None]:
        """The held partial line as a line of its own (at end of input or after a quiet time)."""
        self.last_offsets = [self.offset]
        if not self._pending and not self._overflow:
            return [], None
        if self._overflow:
            line, extra = self._finish_capped(0)
            self.last_offsets.append(self.offset)
            return [line], [extra]
        block = bytes(self._pending)
        self._pending.clear()
        self.offset += len(block)
        self.last_offsets.append(self.offset)
        return [_decode(block).rstrip("\r")], None

    def _finish_capped(self, newline: int) -> tuple[str, dict[str, Any]]:
        kept = bytes(self._pending)
        skipped = self._overflow
        self.offset += len(kept) + skipped + newline
        self._pending.clear()
        self._overflow = 0
        return _decode(kept), {"truncated": True, "truncated_bytes": skipped}

    def _cap_lines(self, lines: list[str]) -> Extras | None:
        extras: Extras = [None] * len(lines)
        found = False
        for index, line in enumerate(lines):
            if len(line) * 4 <= self.max_line_bytes:
                continue
            encoded = line.encode("utf-8")
            if len(encoded) > self.max_line_bytes:
                lines[index] = encoded[: self.max_line_bytes].decode("utf-8", "replace")
                extras[index] = {
                    "truncated": True,
                    "truncated_bytes": len(encoded) - self.max_line_bytes,
                }
                found = True
        return extras if found else None


def _line_ends(block: bytes, start: int) -> list[int]:
    """Absolute offsets just after each newline in `block` (which ends with one)."""
    ends = []
    position = block.find(b"\n")
    while position >= 0:
        ends.append(start + position + 1)
        position = block.find(b"\n", position + 1)
    return ends


def _decode(block: bytes) -> str:
    text = block.decode("utf-8", "replace")
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text


def _decode_lines(block: bytes) -> list[str]:
    """`block` ends with a newline; newlines never fall inside a UTF-8 sequence."""
    lines = _decode(block).split("\n")
    lines.pop()
    if b"\r" in block:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines
