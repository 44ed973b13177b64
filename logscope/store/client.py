"""Talk to the query service of the process that holds a database: framing, client, stale sockets.

Wire format (both directions): frames of one kind byte, a 4-byte big-endian length, the payload.
`J` frames carry one JSON object (orjson); `A` frames carry a slice of an Arrow IPC stream.
A request is one `J` frame (`{"op": "query", "sql": ...}`, `{"op": "status"}`, `{"op": "vacuum", ...}`).
A query answer is `J {"columns": [...], "types": [...]}`, then the Arrow IPC stream of the rows in
`A` frames, then `J {"end": true, "rows": N}`; any failure is `J {"error": "one line"}`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

from logscope.errors import LogscopeError
from logscope.store.database import connect

if TYPE_CHECKING:  # (pyarrow loads with the first Arrow answer: a browsing `tail` serves without it)
    import pyarrow as pa

SOCKET_SUFFIX = ".sock"
HEADER = struct.Struct(">cI")
JSON_FRAME = b"J"
ARROW_FRAME = b"A"
MAX_JSON_FRAME = 16 * 1024 * 1024
CONNECT_TIMEOUT = 5.0


@contextlib.contextmanager
def reachable(path: str) -> Iterator[str]:
    """`path`, or an equivalent short enough for a unix socket address (108 bytes on Linux)."""
    if len(os.fsencode(path)) < 100:
        yield path
        return
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{os.path.basename(path)}"
    finally:
        os.close(directory)


def socket_path(db_path: str) -> str:
    """Where the process that holds `db_path` serves queries: next to it, `<db>.sock`."""
    return db_path + SOCKET_SUFFIX


class ProtocolError(Exception):
    """The peer sent something that is not a frame of this protocol."""


def send_frame(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    sock.sendall(HEADER.pack(kind, len(payload)) + payload)


def send_json(sock: socket.socket, message: dict[str, Any]) -> None:
    send_frame(sock, JSON_FRAME, orjson.dumps(message))


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None = None) -> bytes:
    """`size` bytes; with a `deadline` (time.monotonic()), TimeoutError once it has passed."""
    chunks = []
    while size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request did not arrive in time")
            sock.settimeout(left)
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionResetError("the query service closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_frame(
    sock: socket.socket, max_json: int = MAX_JSON_FRAME, deadline: float | None = None
) -> tuple[bytes, bytes]:
    kind, size = HEADER.unpack(_recv_exactly(sock, HEADER.size, deadline))
    if kind not in (JSON_FRAME, ARROW_FRAME) or (kind == JSON_FRAME and size > max_json):
        raise ProtocolError(f"unexpected frame {kind!r} of {size} bytes")
    return kind, _recv_exactly(sock, size, deadline)


def recv_json(
    sock: socket.socket, max_json: int = MAX_JSON_FRAME, deadline: float | None = None
) -> dict[str, Any]:
    kind, payload = recv_frame(sock, max_json, deadline)
    if kind != JSON_FRAME:
        raise ProtocolError("expected a JSON frame")
    message = orjson.loads(payload)
    if not isinstance(message, dict):
        raise ProtocolError("expected a JSON object")
    return message


class _ArrowFrames:
    """A read-only file over the `A` frames of a connection; EOF at the next `J` frame."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.trailer: dict[str, Any] | None = None
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        while self.trailer is None and (size < 0 or len(self.buffer) < size):
            kind, payload = recv_frame(self.sock)
            if kind == JSON_FRAME:
                self.trailer = orjson.loads(payload)
            else:
                self.buffer += payload
        if size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readable(self) -> bool:
        return True


@dataclass
class RemoteResult:
    """A query answer as it streams in: column names and types, then rows."""

    columns: list[str] | None
    types: list[str]
    _client: QueryClient = field(repr=False)

    def rows(self, batch_rows: int = 10_000) -> Iterator[tuple]:
        """The rows, as the same Python values a direct DuckDB cursor would give."""
        if self.columns is None:
            self._client.finish()
            return
        frames = _ArrowFrames(self._client.sock)
        local = connect()
        try:
            for batch in self._batches(frames):
                # Through DuckDB again, so each value is the Python object a direct query gives.
                local.register("remote_batch", batch)
                result = local.execute("SELECT * FROM remote_batch")
                while chunk := result.fetchmany(batch_rows):
                    yield from chunk
                local.unregister("remote_batch")
        finally:
            local.close()
        self._client.finish(frames.trailer)

    def arrow(self) -> pa.RecordBatchReader:
        """The rows as an Arrow stream, read as it is consumed (the answer's end is checked once
        the stream is read through)."""
        import pyarrow as pa

        frames = _ArrowFrames(self._client.sock)
        try:
            stream = pa.ipc.open_stream(frames)
        except (pa.ArrowException, OSError, ProtocolError) as exc:
            self._raise_failure(frames, exc)

        def batches() -> Iterator[pa.RecordBatch]:
            yield from self._batches(frames, stream)
            self._client.finish(frames.trailer)

        return pa.RecordBatchReader.from_batches(stream.schema, batches())

    def _raise_failure(self, frames: _ArrowFrames, exc: Exception) -> NoReturn:
        if frames.trailer is not None and "error" in frames.trailer:
            raise LogscopeError(str(frames.trailer["error"])) from None
        raise LogscopeError(f"{self._client.path}: the query service failed: {exc}") from exc

    def _batches(self, frames: _ArrowFrames, stream=None) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        try:
            yield from stream if stream is not None else pa.ipc.open_stream(frames)
            if frames.trailer is None:
                frames.read()  # the end-of-stream marker is followed by the trailer frame
        except (pa.ArrowException, OSError, ProtocolError) as exc:
            self._raise_failure(frames, exc)


class QueryClient:
    """One connection to a query service; one request per connection."""

    def __init__(self, path: str, timeout: float | None = CONNECT_TIMEOUT) -> None:
        self.path = path
        check_socket_owner(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            with reachable(path) as address:
                self.sock.connect(address)
        except OSError as exc:
            self.sock.close()
            raise LogscopeError(
                f"{path}: cannot connect to the query service: {exc.strerror or exc}"
            ) from exc
        self.sock.settimeout(None)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> QueryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            send_json(self.sock, message)
        except OSError as exc:
            # The service may have refused the connection (its limits) and closed it before our
            # request arrived: its answer is still there to read, and says why.
            failure: Exception | None = exc
        else:
            failure = None
        try:
            answer = recv_json(self.sock)
        except (OSError, ProtocolError) as exc:
            raise LogscopeError(f"{self.path}: the query service failed: {failure or exc}") from exc
        if "error" in answer:
            raise LogscopeError(str(answer["error"]))
        if failure is not None:
            raise LogscopeError(f"{self.path}: the query service failed: {failure}") from failure
        return answer

    def query(self, sql: str) -> RemoteResult:
        """Send one SQL text; the answer's header arrives now, its rows as they are read."""
        header = self._request({"op": "query", "sql": sql})
        return RemoteResult(header.get("columns"), header.get("types") or [], self)

    def finish(self, trailer: dict[str, Any] | None = None) -> None:
        """Read the end of an answer (unless given), raising its error if it carries one."""
        if trailer is None:
            try:
                trailer = recv_json(self.sock)
            except (OSError, ProtocolError) as exc:
                raise LogscopeError(f"{self.path}: the query service failed: {exc}") from exc
        if "error" in trailer:
            raise LogscopeError(str(trailer["error"]))

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        """A non-query request (`status`, `vacuum`): one JSON answer."""
        return self._request({"op": op, **arguments})


def check_socket_owner(path: str) -> None:
    """Refuse a socket that is not a socket or that another user owns (it could feed us lies)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError as exc:
        raise LogscopeError(f"{path}: no query service here") from exc
    if not stat.S_ISSOCK(info.st_mode):
        raise LogscopeError(f"{path}: not a socket")
    if info.st_uid != os.getuid() and os.getuid() != 0:
        raise LogscopeError(f"{path}: owned by uid {info.st_uid}, not by you; not connecting")


def service_state(path: str) -> str:
    """`absent`, `live` (something accepts connections), `stale` (nobody listens) or `other` (no socket)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    if not stat.S_ISSOCK(info.st_mode):
        return "other"
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(CONNECT_TIMEOUT)
    try:
        with reachable(path) as address:
            probe.connect(address)
    except ConnectionRefusedError:
        return "stale"
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        # EACCES: someone else's socket, alive or not; we cannot tell and must not touch it.
        return "live" if exc.errno in (errno.EACCES, errno.EPERM, errno.EAGAIN) else "stale"
    finally:
        probe.close()
    return "live"


def remove_stale_socket(path: str) -> bool:
    """Delete a socket nobody listens on (left by a crashed process); True when one was removed.

    Call it only while holding the database open: then no process can be starting a service."""
    try:
        before = os.lstat(path).st_ino
    except FileNotFoundError:
        return False
    if service_state(path) != "stale":
        return False
    with contextlib.suppress(FileNotFoundError):
        if os.lstat(path).st_ino == before:
            os.unlink(path)
            return True
    return False


def connect_if_served(db_path: str) -> QueryClient | None:
    """A client for the service of the process holding `db_path`, or None when none is running.

    A stale socket is left for `remove_stale_socket`, once the caller holds the database."""
    path = socket_path(db_path)
    if service_state(path) != "live":
        return None
    return QueryClient(path)
