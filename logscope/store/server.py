"""The query service: the process that holds the database answers queries on `<db>.sock`.

DuckDB lets one process open a database file for writing and no other process even read it
meanwhile, so the writer serves everyone else over a unix socket next to the file. Each client
gets its own cursor on the writer's database, inside a READ ONLY transaction, so a query sees a
consistent snapshot and can never change the data; statements that would change the shared
instance (global settings, attached databases, extensions, transactions) are refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa

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

BATCH_ROWS = 10_000
MAX_CLIENTS = 8
REQUEST_LIMIT = 4 * 1024 * 1024
PEERCRED = struct.Struct("3i")

StatusProvider = Callable[[], dict[str, Any]]
VacuumHandler = Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], dict[str, Any]]

# Statements that change what every connection of the writer's instance sees.
_SHARED_STATE_TYPES = {"ATTACH", "DETACH", "LOAD", "EXTENSION", "TRANSACTION", "COPY_DATABASE"}
_SESSION_SET = re.compile(r"\s*(set\s+variable|reset\s+variable|set\s+session|reset\s+session|use)\b", re.I)
_PRAGMA_NAME = re.compile(r"\s*(?:pragma|call)\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)
_READ_PRAGMAS = {
    "table_info",
    "show",
    "show_tables",
    "show_tables_expanded",
    "show_databases",
    "database_size",
    "database_list",
    "storage_info",
    "metadata_info",
    "version",
    "platform",
    "functions",
    "collations",
    "user_agent",
    "checkpoint",
}
_READ_ONLY_TXN = re.compile(r'Cannot write to database "([^"]*)" - transaction is launched in read-only mode')


def one_line_error(exc: BaseException) -> str:
    """DuckDB's message, first line only (the rest is a caret drawing)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def refusal(statement: duckdb.Statement, pid: int) -> str | None:
    """Why the service will not run `statement` for a client, or None when it may."""
    kind = statement.type.name
    text = statement.query
    if kind in _SHARED_STATE_TYPES:
        return f'statement of type "{kind}" is not allowed through the query service of PID {pid}'
    if kind == "SET" and not _SESSION_SET.match(text):
        return (
            f"SET would change the settings of PID {pid}, which holds the database;"
            " use SET SESSION or SET VARIABLE"
        )
    if kind in ("PRAGMA", "CALL"):
        match = _PRAGMA_NAME.match(text)
        name = (match.group(1).lower() if match else "").removeprefix("pragma_")
        if kind == "PRAGMA" and (name not in _READ_PRAGMAS or "=" in text):
            return f"PRAGMA {name or '?'} is not allowed through the query service of PID {pid}"
    return None


def _read_only_message(exc: duckdb.Error, statement: duckdb.Statement) -> str:
    """The error a read-only connection gives, for a write refused by the read-only transaction."""
    message = one_line_error(exc)
    match = _READ_ONLY_TXN.search(message)
    if not match:
        return message
    return (
        f'Invalid Input Error: Cannot execute statement of type "{statement.type.name}"'
        f' on database "{match.group(1)}" which is attached in read-only mode!'
    )


def peer_uid(sock: socket.socket) -> int:
    _pid, uid, _gid = PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size))
    return uid


class _Client:
    """One connection: runs its request on its own cursor; cancelled when the peer hangs up."""

    def __init__(self, server: QueryServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
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
        uid = peer_uid(self.sock)
        if uid not in (os.getuid(), 0):
            send_json(self.sock, {"error": f"{self.server.path}: permission denied for uid {uid}"})
            return
        request = recv_json(self.sock, REQUEST_LIMIT)
        op = request.get("op")
        if op == "query" and isinstance(request.get("sql"), str):
            self._query(request["sql"])
        elif op == "status":
            send_json(self.sock, self.server.status())
        elif op == "vacuum" and self.server.vacuum_handler is not None:
            with self._session() as cursor:
                send_json(self.sock, self.server.vacuum_handler(cursor, request))
        else:
            send_json(self.sock, {"error": f"query service: unknown request {op!r}"})

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
        except duckdb.Error as exc:
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
    ) -> None:
        self.con = con
        self.db_path = db_path
        self.path = socket_path(db_path)
        self.status_provider = status
        self.vacuum_handler = vacuum_handler
        self.started_at = time.time()
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: set[_Client] = set()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)

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
            listener.listen(MAX_CLIENTS)
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
                if not self._slots.acquire(blocking=False):
                    with contextlib.suppress(OSError):
                        send_json(sock, {"error": f"query service: busy ({MAX_CLIENTS} queries running)"})
                    sock.close()
                    continue
                client = _Client(self, sock)
                with self._lock:
                    self._clients.add(client)
                threading.Thread(target=self._run_client, args=(client,), daemon=True).start()

    def _run_client(self, client: _Client) -> None:
        try:
            client.run()
        finally:
            with self._lock:
                self._clients.discard(client)
            self._slots.release()

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
