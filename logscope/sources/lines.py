"""Split a byte stream into text lines: invalid UTF-8 and NULs replaced, overlong lines capped."""

from __future__ import annotations

from typing import Any

from logscope.record import MAX_LINE_BYTES

REPLACEMENT = "\ufffd"


class LineSplitter:
    """Feed bytes in, get complete lines out; tracks the byte offset just after the last line."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES, offset: int = 0) -> None:
        self.max_line_bytes = max_line_bytes
        self.offset = offset  # bytes consumed into complete lines (a checkpoint position)
        self._pending = bytearray()
        self._discarding = 0  # >0 while skipping the rest of an overlong line: bytes dropped so far

    @property
    def pending_bytes(self) -> int:
        """Bytes held for a line that has not ended yet."""
        return len(self._pending)

    def feed(self, data: bytes) -> tuple[list[str], list[dict[str, Any] | None] | None]:
        """Lines completed by `data`, and per-line extras (only when a line was capped)."""
        lines: list[str] = []
        extras: list[dict[str, Any] | None] | None = None
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                self._discarding += len(data)
                self.offset += len(data)
                return lines, extras
            self.offset += end + 1
            self._discarding = 0
            data = data[end + 1 :]
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending += data
            if len(self._pending) > self.max_line_bytes:
                return self._cap_pending()
            return lines, extras
        block = bytes(self._pending) + data[: cut + 1] if self._pending else data[: cut + 1]
        self._pending = bytearray(data[cut + 1 :])
        self.offset += len(block)
        lines = _decode_lines(block)
        if len(block) > self.max_line_bytes:
            extras = self._cap_lines(lines)
        if len(self._pending) > self.max_line_bytes:
            capped, capped_extras = self._cap_pending()
            extras = (extras or [None] * len(lines)) + (capped_extras or [])
            lines += capped
        return lines, extras

    def flush(self) -> list[str]:
        """The held partial line as a line of its own (at end of input or after a quiet time)."""
        if not self._pending:
            return []
        block = bytes(self._pending)
        self._pending.clear()
        self.offset += len(block)
        return [_decode(block).rstrip("\r")]

    def _cap_pending(self) -> tuple[list[str], list[dict[str, Any] | None]]:
        kept = bytes(self._pending[: self.max_line_bytes])
        dropped = len(self._pending) - len(kept)
        self._pending.clear()
        self._discarding = dropped or 1
        self.offset += len(kept) + dropped
        return [_decode(kept)], [{"truncated": True, "truncated_bytes": dropped}]

    def _cap_lines(self, lines: list[str]) -> list[dict[str, Any] | None] | None:
        extras: list[dict[str, Any] | None] = [None] * len(lines)
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
