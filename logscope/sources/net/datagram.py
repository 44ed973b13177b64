"""UDP and unix datagram listeners: one datagram is one message.

A receiving thread takes datagrams off the socket as fast as they come into a bounded buffer; the
source's own thread hands them to the pipeline in bursts. When the pipeline cannot keep up and the
buffer is full, datagrams are dropped and counted (`ctx.add_drops`), as are the datagrams the kernel
dropped because the socket's receive buffer overflowed (read from /proc/net/udp on Linux).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import deque
from typing import Any

from logscope.record import LineBatch, now_us
from logscope.sources.base import SourceContext
from logscope.sources.net.address import (
    BoundListener,
    ListenSpec,
    format_address,
)
from logscope.sources.net.framing import decode_message

# Buffered between the socket and the pipeline before datagrams are dropped.
BUFFER_MESSAGES = 100_000
BUFFER_BYTES = 64 * 1024 * 1024
BURST_MESSAGES = 20_000
RECEIVE_BYTES = 65536
POLL_SECONDS = 0.1


class DatagramListener(BoundListener):
    """A `udp://HOST:PORT` or `unixgram:///path` listener; the socket is bound when it is created."""

    def __init__(self, spec: ListenSpec, argument: str) -> None:
        super().__init__(spec, argument)
        self._buffer: deque[tuple[bytes, Any, int]] = deque()
        self._arrived = threading.Event()
        self._buffered_in = 0  # bytes put into the buffer (receiver thread only)
        self._buffered_out = 0  # bytes taken out of it (emitting thread only)
        self._dropped = 0  # by the receiver thread, reported by the emitting thread
        self._received_bytes = 0  # likewise
        self._reported_bytes = 0
        self._kernel_drops = KernelDrops(self.sock) if not spec.is_unix else None
        self._receiving = True
        self.buffer_messages = spec.buffer_messages or BUFFER_MESSAGES

    def run(self, ctx: SourceContext) -> None:
        receiver = threading.Thread(target=self._receive, args=(ctx,), name=f"recv:{self.name}", daemon=True)
        receiver.start()
        reported = 0
        try:
            while not ctx.stop.is_set():
                if not self._buffer:
                    self._arrived.wait(POLL_SECONDS)
                    self._arrived.clear()
                self._emit_burst(ctx)
                reported = self._report_drops(ctx, reported)
            self._receiving = False
            receiver.join(2 * POLL_SECONDS + 1)
            while self._buffer:
                self._emit_burst(ctx)
            self._report_drops(ctx, reported, fresh=True)
        finally:
            self._receiving = False
            self._close(ctx)

    def _receive(self, ctx: SourceContext) -> None:
        """Take datagrams off the socket into the buffer, counting what does not fit."""
        sock = self.sock
        sock.settimeout(POLL_SECONDS)
        while self._receiving:
            try:
                data, address = sock.recvfrom(RECEIVE_BYTES)
            except TimeoutError:
                continue
            except OSError:
                if not self._receiving:
                    break
                continue
            self._keep(ctx, data, address)
        self._receive_queued(ctx)

    def _receive_queued(self, ctx: SourceContext) -> None:
        """On stop: take what the kernel already holds for us, without waiting for more."""
        with contextlib.suppress(OSError):
            self.sock.setblocking(False)
            while True:
                data, address = self.sock.recvfrom(RECEIVE_BYTES)
                self._keep(ctx, data, address)

    def _keep(self, ctx: SourceContext, data: bytes, address: Any) -> None:
        """Buffer one datagram, or count it dropped when the buffer is full."""
        if not data:
            return
        self._received_bytes += len(data)
        buffer = self._buffer
        if len(buffer) >= self.buffer_messages or self._buffered_in - self._buffered_out >= BUFFER_BYTES:
            self._dropped += 1
            return
        limit = self.spec.max_message_bytes
        cut = len(data) - limit if len(data) > limit else 0
        if cut:
            data = data[:limit]
        self._buffered_in += len(data)
        buffer.append((data, address, cut))
        if not self._arrived.is_set():
            self._arrived.set()

    def _emit_burst(self, ctx: SourceContext) -> None:
        """Hand over what is buffered (up to BURST_MESSAGES): one batch per peer."""
        buffer = self._buffer
        by_peer: dict[Any, tuple[list[str], list[dict[str, Any] | None]]] = {}
        taken = 0
        for _ in range(min(len(buffer), BURST_MESSAGES)):
            data, address, cut = buffer.popleft()
            taken += len(data)
            text = decode_message(data)
            if not text:
                continue
            lines, extras = by_peer.setdefault(address, ([], []))
            lines.append(text)
            extras.append({"truncated": True, "truncated_bytes": cut} if cut else None)
        self._buffered_out += taken
        received = now_us()
        for address, (lines, extras) in by_peer.items():
            ctx.emit(self._batch(address, lines, extras, received))

    def _batch(self, address: Any, lines: list[str], extras: list[dict[str, Any] | None], received: int):
        peer = format_address(address)
        host = address[0] if isinstance(address, tuple) else self._local_host
        base = {"peer": peer} if peer else None
        if base is None and not any(extras):
            return LineBatch(self.name, lines, received, host)
        merged = [{**(base or {}), **found} if found else base for found in extras]
        return LineBatch(self.name, lines, received, host, merged)

    def _report_drops(self, ctx: SourceContext, reported: int, fresh: bool = False) -> int:
        """Pass drops (and bytes) counted since the last call to the pipeline; returns the drops reported."""
        received = self._received_bytes  # only ever grows (receiver thread); we report the growth
        if received > self._reported_bytes:
            ctx.add_bytes(self.name, received - self._reported_bytes)
            self._reported_bytes = received
        kernel = self._kernel_drops.read(fresh) if self._kernel_drops else 0
        total = self._dropped + kernel
        if total > reported:
            ctx.add_drops(self.name, total - reported)
        return max(total, reported)


class KernelDrops:
    """Datagrams the kernel dropped for one UDP socket (Linux /proc/net/udp `drops`; else 0)."""

    READ_EVERY = 0.5

    def __init__(self, sock: socket.socket) -> None:
        self._checked = 0.0
        self._last = 0
        self.inode = str(os.fstat(sock.fileno()).st_ino)
        self.table = "/proc/net/udp6" if sock.family == socket.AF_INET6 else "/proc/net/udp"
        self.start = 0
        self.start = self._read()

    def read(self, fresh: bool = False) -> int:
        """Drops since this object was made; /proc is read at most every READ_EVERY seconds."""
        now = time.monotonic()
        if fresh or now - self._checked >= self.READ_EVERY:
            self._checked = now
            self._last = self._read()
        return self._last

    def _read(self) -> int:
        with contextlib.suppress(OSError, ValueError, IndexError), open(self.table) as table:
            for row in table:
                columns = row.split()
                if len(columns) > 12 and columns[9] == self.inode:
                    return int(columns[12]) - self.start
        return 0
