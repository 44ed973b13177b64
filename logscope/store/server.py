"""The query service: the process that holds the database answers queries on `<db>.sock`.

DuckDB lets one process open a database file for writing and no other process even read it
meanwhile, so the writer serves everyone else over a unix socket next to the file. Each client
gets its own cursor on the writer's database, inside a READ ONLY transaction, so a query sees a
consistent snapshot and can never change the data; only statements that read run
(store/statements.py). Idle or greedy clients cannot keep others out (`ServiceLimits`).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from logscope.errors import LogscopeError
from logscope.store.client import (
    ARROW_FRAME,
    ProtocolError,
    reachable,
    recv_json,
    remove_stale_socket,
    send_frame,
    send_json,
    service_state,
    socket_path,
)
from logscope.store.statements import READ_ONLY_TXN, one_line_error, refusal

if TYPE_CHECKING:  # (pyarrow loads with the first answer: a browsing `tail` serves without it)
    import pyarrow as pa

BATCH_ROWS = 10_000
REQUEST_LIMIT = 4 * 1024 * 1024
PEERCRED = struct.Struct("3i")


@dataclass(frozen=True)
class ServiceLimits:
    """How much of the service one connection, one client process and all of them may hold.

    A connection that has not sent its request after `request_seconds` is closed, so idle
    connections cannot keep others out; only queries that run take one of the `queries` slots.
    """

    connections: int = 64  # open at once; more are told the service is busy
    connections_per_client: int = 16  # open at once from one process (by its PID)
    queries: int = 8  # running at once
    queue_seconds: float = 5.0  # how long a request waits for a running query to end
    request_seconds: float = 10.0  # from connecting to a complete request
    send_seconds: float = 60.0  # a client that reads nothing of its answer this long is cut off


StatusProvider = Callable[[], dict[str, Any]]
VacuumHandler = Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], dict[str, Any]]
# A request other than a query (`vacuum`, `mark`): its cursor and the request in, one answer out.
Handler = VacuumHandler


def _read_only_message(exc: duckdb.Error, statement: duckdb.Statement) -> str:
    """The error a read-only connection gives, for a write refused by the read-only transaction."""
    message = one_line_error(exc)
    match = READ_ONLY_TXN.search(message)
    if not match:
        return message
    return (
        f'Invalid Input Error: Cannot execute statement of type "{statement.type.name}"'
        f' on database "{match.group(1)}" which is attached in read-only mode!'
    )


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """The connecting process's PID and uid (SO_PEERCRED)."""
    pid, uid, _gid = PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size))
    return pid, uid


class _Client:
    """One connection: runs its request on its own cursor; cancelled when the peer hangs up."""

    def __init__(self, server: QueryServer, sock: socket.socket, pid: int, uid: int) -> None:
        self.server = server
        self.sock = sock
        self.pid = pid
        self.uid = uid
        self.cursor: duckdb.DuckDBPyConnection | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self._serve()
        except (OSError, ProtocolError, ValueError):
            pass  # the client went away or spoke nonsense; only this connection ends
        except Exception as exc:  # a bad request must not leave the client waiting, nor print
            with contextlib.suppress(OSError):
                send_json(self.sock, {"error": f"query service: {type(exc).__name__}: {exc}"})
        finally:
            self.done.set()
            self._close_cursor()
            self.sock.close()

    def _serve(self) -> None:
        uid = self.uid
        if uid not in (os.getuid(), 0):
            send_json(self.sock, {"error": f"{self.server.path}: permission denied for uid {uid}"})
            return
        limits = self.server.limits
        # The whole request must arrive within request_seconds: an idle connection is closed.
        deadline = time.monotonic() + limits.request_seconds
        self.sock.settimeout(limits.request_seconds)
        request = recv_json(self.sock, REQUEST_LIMIT, deadline=deadline)
        self.sock.settimeout(limits.send_seconds)  # a client that stops reading is cut off
        op = request.get("op")
        if op == "status":
            send_json(self.sock, self.server.status())
            return
        handler = self.server.handlers.get(op) if isinstance(op, str) else None
        if (op != "query" and handler is None) or (op == "query" and not isinstance(request.get("sql"), str)):
            send_json(self.sock, {"error": f"query service: unknown request {op!r}"})
            return
        if not self.server.slots.acquire(timeout=limits.queue_seconds):
            send_json(self.sock, {"error": f"query service: busy ({limits.queries} queries running)"})
            return
        try:
            if op == "query":
                self._query(request["sql"])
            else:
                with self._session() as cursor:
                    send_json(self.sock, handler(cursor, request))  # type: ignore[misc]
        finally:
            self.server.slots.release()

    @contextlib.contextmanager
    def _session(self):
        self.cursor = self.server.con.cursor()
        try:
            self.cursor.execute("SET SESSION TimeZone = 'UTC'")
            yield self.cursor
        finally:
            self._close_cursor()

    def _close_cursor(self) -> None:
        cursor, self.cursor = self.cursor, None
        if cursor is not None:
            with contextlib.suppress(duckdb.Error):
                cursor.close()

    def _query(self, sql: str) -> None:
        try:
            statements = duckdb.extract_statements(sql)
        except (duckdb.Error, ValueError) as exc:  # ValueError: a statement type Python lacks
            send_json(self.sock, {"error": one_line_error(exc)})
            return
        for statement in statements:
            reason = refusal(statement, os.getpid())
            if reason:
                send_json(self.sock, {"error": reason})
                return
        if not statements:
            send_json(self.sock, {"columns": None})
            send_json(self.sock, {"end": True, "rows": 0})
            return
        with self._session() as cursor:
            cursor.execute("SET SESSION arrow_lossless_conversion = true")
            cursor.execute("BEGIN TRANSACTION READ ONLY")
            watcher = threading.Thread(target=self._watch_hangup, name="logscope-query-watch", daemon=True)
            watcher.start()
            try:
                self._run_statements(cursor, statements)
            finally:
                self.done.set()
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")

    def _run_statements(self, cursor: duckdb.DuckDBPyConnection, statements: list) -> None:
        current = statements[0]
        try:
            for current in statements[:-1]:
                cursor.execute(current.query).fetchall()  # DuckDB wants each result consumed
            current = statements[-1]
            relation = cursor.sql(current.query)
            reader = relation.to_arrow_reader(BATCH_ROWS) if relation is not None else None
        except duckdb.Error as exc:
            send_json(self.sock, {"error": _read_only_message(exc, current)})
            return
        if reader is None:
            send_json(self.sock, {"columns": None})
            send_json(self.sock, {"end": True, "rows": 0})
            return
        send_json(self.sock, {"columns": relation.columns, "types": [str(t) for t in relation.types]})
        self._stream(reader)

    def _stream(self, reader: pa.RecordBatchReader) -> None:
        import pyarrow as pa

        sink = _FrameSink(self.sock)
        rows = 0
        try:
            with pa.ipc.new_stream(sink, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            if sink.broken:
                raise ConnectionResetError("client went away") from exc
            send_json(self.sock, {"error": one_line_error(exc)})
            return
        send_json(self.sock, {"end": True, "rows": rows})

    def _watch_hangup(self) -> None:
        """Interrupt the running query when the client closes its end (Ctrl-C, crash)."""
        with selectors.DefaultSelector() as selector:
            try:
                selector.register(self.sock, selectors.EVENT_READ)
            except (ValueError, OSError):  # the connection is already closed
                return
            while not self.done.is_set():
                try:
                    ready = selector.select(0.2)
                except (ValueError, OSError):  # closed under us by the answering thread
                    return
                if not ready:
                    continue
                try:
                    data = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    cursor = self.cursor
                    if cursor is not None:
                        with contextlib.suppress(duckdb.Error):
                            cursor.interrupt()
                    return
                time.sleep(0.2)  # the client sent more than its request: ignore it


class _FrameSink:
    """A writable file that sends what is written as `A` frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.broken = False
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        try:
            send_frame(self.sock, ARROW_FRAME, bytes(data))
        except OSError:
            self.broken = True
            raise
        return len(data)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class QueryServer:
    """Accepts owner-only connections on `<db>.sock` while this process holds the database."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        db_path: str,
        status: StatusProvider | None = None,
        vacuum_handler: VacuumHandler | None = None,
        limits: ServiceLimits | None = None,
        handlers: dict[str, Handler] | None = None,
    ) -> None:
        self.con = con
        self.db_path = db_path
        self.path = socket_path(db_path)
        self.status_provider = status
        self.vacuum_handler = vacuum_handler
        self.handlers: dict[str, Handler] = dict(handlers or {})
        if vacuum_handler is not None:
            self.handlers["vacuum"] = vacuum_handler
        self.started_at = time.time()
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: set[_Client] = set()
        self._lock = threading.Lock()
        self.limits = limits or ServiceLimits()
        self.slots = threading.BoundedSemaphore(self.limits.queries)

    def start(self) -> None:
        """Bind the socket (mode 0600, cleaning up a stale one) and start accepting."""
        self._listener = self._bind()
        self._thread = threading.Thread(target=self._accept_loop, name="logscope-query-service", daemon=True)
        self._thread.start()

    def _bind(self) -> socket.socket:
        state = service_state(self.path)
        if state == "stale":
            remove_stale_socket(self.path)
        elif state == "live":
            raise LogscopeError(f"{self.path}: another process already serves queries here")
        elif state == "other":
            raise LogscopeError(f"{self.path}: exists and is not a socket; not replacing it")
        # Bind inside a private directory, set the mode, then move it in place: never world-usable.
        directory = os.path.dirname(os.path.abspath(self.path))
        private = tempfile.mkdtemp(prefix=".logscope-sock-", dir=directory)
        temporary = os.path.join(private, "s")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with reachable(temporary) as address:
                listener.bind(address)
            os.chmod(temporary, 0o600)
            listener.listen(self.limits.connections)
            os.rename(temporary, self.path)
        except OSError as exc:
            listener.close()
            raise LogscopeError(f"{self.path}: cannot serve queries: {exc.strerror or exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            os.rmdir(private)
        self._inode = os.lstat(self.path).st_ino
        return listener

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not selector.select(0.2):
                    continue
                try:
                    sock, _ = self._listener.accept()
                except OSError:
                    continue
                self._admit(sock)

    def _admit(self, sock: socket.socket) -> None:
        """Serve a new connection in a thread of its own, unless the limits say it must wait."""
        try:
            pid, uid = peer_credentials(sock)
        except OSError:
            sock.close()
            return
        limits = self.limits
        with self._lock:
            open_now = len(self._clients)
            from_pid = sum(1 for client in self._clients if client.pid == pid)
            refused = None
            if open_now >= limits.connections:
                refused = f"query service: busy ({limits.connections} connections open)"
            elif from_pid >= limits.connections_per_client:
                refused = (
                    f"query service: PID {pid} has {from_pid} connections open"
                    f" (at most {limits.connections_per_client} per process)"
                )
            client = None if refused else _Client(self, sock, pid, uid)
            if client is not None:
                self._clients.add(client)
        if client is None:
            with contextlib.suppress(OSError):
                sock.settimeout(1.0)
                send_json(sock, {"error": refused})
            sock.close()
            return
        threading.Thread(target=self._run_client, args=(client,), daemon=True).start()

    def _run_client(self, client: _Client) -> None:
        try:
            client.run()
        finally:
            with self._lock:
                self._clients.discard(client)

    def running_queries(self) -> int:
        with self._lock:
            return sum(1 for client in self._clients if client.cursor is not None)

    def status(self) -> dict[str, Any]:
        """What `logscope status` shows: this process, plus what the status provider knows."""
        info: dict[str, Any] = {
            "held": True,
            "pid": os.getpid(),
            "db": self.db_path,
            "socket": self.path,
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 3),
            "queries_running": self.running_queries(),
        }
        if self.status_provider is not None:
            info.update(self.status_provider())
        return info

    def stop(self) -> None:
        """Stop accepting, interrupt running queries, remove the socket if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._listener is not None:
            self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            cursor = client.cursor
            if cursor is not None:
                with contextlib.suppress(duckdb.Error):
                    cursor.interrupt()
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)
        for client in clients:
            client.done.wait(2)

    def __enter__(self) -> QueryServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
