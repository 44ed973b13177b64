"""TCP and unix stream listeners: many clients on one asyncio loop in the source's thread.

Each connection is read, framed and handed to the pipeline in bursts; while the pipeline is full
a connection is not read (backpressure reaches the sender through TCP, nothing is lost). On stop,
what connected clients already sent is read and handed over before the listener ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from logscope.record import LineBatch, now_us
from logscope.sources.base import SourceContext
from logscope.sources.net.address import (
    BoundListener,
    ListenSpec,
    format_address,
)
from logscope.sources.net.framing import Extras, StreamFramer

READ_BYTES = 64 * 1024
# At a connection limit, a connection quiet at least this long is closed to make room for a new
# one; when none is, the new one is refused (both reported).
EVICT_IDLE_SECONDS = 1.0
# On stop: a connection quiet this long is closed; all are closed after DRAIN_LIMIT.
DRAIN_IDLE_SECONDS = 0.2
DRAIN_LIMIT_SECONDS = 5.0
STOP_POLL_SECONDS = 0.1
EMIT_THREADS = 4


@dataclass
class _Connection:
    peer: str | None
    host: str | None
    writer: asyncio.StreamWriter
    client: str | None = None  # what the per-client limit counts by: the IP address, or the uid
    last_read: float = field(default_factory=time.monotonic)
    busy: bool = False

    def quiet_for(self, now: float) -> float:
        """Seconds since it last sent something (0 while its bytes are being handed on)."""
        return 0.0 if self.busy else now - self.last_read


class StreamListener(BoundListener):
    """A `tcp://HOST:PORT` or `unix:///path` listener; the socket is bound when it is created."""

    def __init__(self, spec: ListenSpec, argument: str) -> None:
        super().__init__(spec, argument)
        self._connections: dict[asyncio.Task[Any], _Connection] = {}
        self._refused = 0
        self._evicted = 0
        self.read_bytes = READ_BYTES

    def run(self, ctx: SourceContext) -> None:
        try:
            asyncio.run(self._serve(ctx))
        finally:
            self._close(ctx)

    async def _serve(self, ctx: SourceContext) -> None:
        executor = ThreadPoolExecutor(EMIT_THREADS, thread_name_prefix=f"emit:{self.name}")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._handle(ctx, executor, reader, writer)

        if self._unix is not None:
            server = await asyncio.start_unix_server(handle, sock=self.sock, limit=READ_BYTES)
        else:
            server = await asyncio.start_server(handle, sock=self.sock, limit=READ_BYTES)
        try:
            while not ctx.stop.is_set():
                await asyncio.sleep(STOP_POLL_SECONDS)
                self._close_idle()
                self._report_refused(ctx)
            await asyncio.sleep(STOP_POLL_SECONDS)  # accept clients still in the listen backlog
            server.close()
            await self._drain()
        finally:
            executor.shutdown(wait=True)

    async def _drain(self) -> None:
        """Read what open connections already sent, closing each once it goes quiet."""
        deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
        while self._connections:
            now = time.monotonic()
            for connection in list(self._connections.values()):
                quiet = not connection.busy and now - connection.last_read >= DRAIN_IDLE_SECONDS
                if quiet or now >= deadline:
                    connection.writer.close()
            await asyncio.wait(list(self._connections), timeout=0.05)

    async def _handle(
        self,
        ctx: SourceContext,
        executor: ThreadPoolExecutor,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        connection = self._describe(writer)
        if not self._make_room(connection):
            self._refused += 1
            writer.close()
            return
        self._connections[task] = connection
        framer = StreamFramer(self.spec.max_message_bytes)
        extra = {"peer": connection.peer} if connection.peer else None
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await reader.read(self.read_bytes)
                except (ConnectionError, OSError):
                    data = b""
                connection.last_read = time.monotonic()
                if not data:
                    break
                ctx.add_bytes(self.name, len(data))
                lines, extras = framer.feed(data)
                if lines:
                    batch = self._batch(lines, extras, extra, connection.host)
                    connection.busy = True
                    await loop.run_in_executor(executor, ctx.emit, batch)
                    connection.busy = False
                    connection.last_read = time.monotonic()  # quiet counts from here
            lines, extras = framer.flush()
            if lines:
                await loop.run_in_executor(
                    executor, ctx.emit, self._batch(lines, extras, extra, connection.host)
                )
        finally:
            del self._connections[task]
            writer.close()

    def _describe(self, writer: asyncio.StreamWriter) -> _Connection:
        if self._unix is not None:
            peer = _unix_peer(writer)
            uid = peer.partition(" ")[2] if peer else None
            return _Connection(peer, self._local_host, writer, uid)
        address = writer.get_extra_info("peername")
        host = address[0] if isinstance(address, tuple) else None
        return _Connection(format_address(address), host, writer, host)

    def _make_room(self, new: _Connection) -> bool:
        """Whether `new` may be served under the connection limits, closing a connection that
        has been quiet longest (at least EVICT_IDLE_SECONDS) in a full scope to make room."""
        spec = self.spec
        scopes = [(list(self._connections.values()), spec.max_connections)]
        same_client = [c for c in self._connections.values() if c.client == new.client]
        scopes.append((same_client, spec.max_connections_per_client))
        now = time.monotonic()
        for connections, limit in scopes:
            if len(connections) < limit:
                continue
            quietest = max(connections, key=lambda c: c.quiet_for(now))
            if quietest.quiet_for(now) < EVICT_IDLE_SECONDS:
                return False
            quietest.writer.close()
            quietest.busy = True  # closing: never chosen twice
            self._evicted += 1
        return True

    def _close_idle(self) -> None:
        """Close connections that have sent nothing for the listener's idle timeout."""
        timeout = self.spec.idle_timeout
        if not timeout:
            return
        now = time.monotonic()
        for connection in list(self._connections.values()):
            if connection.quiet_for(now) >= timeout:
                connection.busy = True  # closing
                connection.writer.close()

    def _batch(self, lines: list[str], extras: Extras, extra: dict[str, Any] | None, host: str | None):
        if extra is not None:
            if extras is None:
                extras = [extra] * len(lines)
            else:
                extras = [{**extra, **found} if found else extra for found in extras]
        return LineBatch(self.name, lines, now_us(), host, extras)

    def _report_refused(self, ctx: SourceContext) -> None:
        spec = self.spec
        limits = f"{spec.max_connections} in all, {spec.max_connections_per_client} per client"
        if self._evicted:
            count, self._evicted = self._evicted, 0
            ctx.report_error(
                f"{self.name}: closed {count} idle connection{'s' if count != 1 else ''}"
                f" to make room for new ones (at most {limits})",
                self.name,
                count,
            )
        if self._refused:
            count, self._refused = self._refused, 0
            ctx.report_error(
                f"{self.name}: refused {count} connection{'s' if count != 1 else ''}"
                f" beyond {limits}, none of them idle",
                self.name,
                count,
            )


def _unix_peer(writer: asyncio.StreamWriter) -> str | None:
    """`pid=… uid=…` of a unix-socket client, from its credentials (Linux)."""
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    with contextlib.suppress(OSError):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", raw)
        return f"pid={pid} uid={uid}"
    return None
