"""`otlp://HOST:PORT`: an OpenTelemetry OTLP/HTTP logs receiver (`POST /v1/logs`).

Protobuf and JSON bodies, gzip or not. Each request is read and decoded in one of a few slots (so
memory stays bounded however many clients send), its records are handed to the pipeline by one
forwarder thread, and the answer is sent once they are queued for it. When the pipeline falls
behind, new requests get `503 Service Unavailable` with `Retry-After` (the OTLP throttling
answer) instead of being held or dropped; when every slot is busy, `429 Too Many Requests`.
"""

from __future__ import annotations

import queue
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from logscope.errors import LogscopeError
from logscope.parsing.otlp_decode import (
    JSON,
    PROTOBUF,
    BadPayload,
    decode,
    status_body,
    success_body,
    to_records,
)
from logscope.record import LineBatch, Record, now_us
from logscope.sources.base import SourceContext
from logscope.sources.net.address import ListenSpec, bind_inet, format_address

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318  # the OTLP/HTTP port
LOGS_PATH = "/v1/logs"
MAX_BODY_BYTES = 20 * 1024 * 1024  # as the OpenTelemetry Collector's default
MAX_PENDING_RECORDS = 20_000  # accepted but not yet handed to the pipeline: beyond it, 503
DECODE_SLOTS = 8  # requests read and decoded at once
SLOT_WAIT_SECONDS = 2.0  # a request waits this long for a slot, then gets 429
MAX_CONNECTIONS = 256
# An oversized body is read and thrown away (64 KiB at a time) up to this much, so the client
# gets to read the 413 answer; beyond it the connection is closed.
DISCARD_LIMIT_BYTES = 128 * 1024 * 1024
# Records per batch handed to the pipeline: its queue holds 64 batches, so this bounds what waits
# there (a 500-record request is handed over as 3 batches).
EMIT_RECORDS = 200
RETRY_AFTER_SECONDS = 1
IDLE_SECONDS = 30.0  # a keep-alive connection quiet this long is closed
STOP_WAIT_SECONDS = 5.0
_SUFFIXES = {"": 1, "k": 1024, "m": 1024 * 1024}


def parse_otlp_spec(argument: str) -> tuple[str, int, int, int]:
    """`otlp://HOST:PORT[?max_body=SIZE][&max_pending=RECORDS]` → (host, port, body, pending)."""
    rest = argument.removeprefix("otlp://")
    address, _, query = rest.partition("?")
    address = address.removesuffix(LOGS_PATH).rstrip("/")
    try:
        parts = urlsplit(f"//{address}")
        port = parts.port
    except ValueError as exc:
        raise LogscopeError(f"{argument}: {exc}", 2) from None
    host, max_body, max_pending = parts.hostname or DEFAULT_HOST, MAX_BODY_BYTES, MAX_PENDING_RECORDS
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "max_body":
            max_body = _size(argument, value)
        elif key == "max_pending":
            if not value.isdigit() or int(value) == 0:
                raise LogscopeError(f"{argument}: max_pending: expected a number of records like 100000", 2)
            max_pending = int(value)
        else:
            raise LogscopeError(f"{argument}: unknown option {key!r} (known: max_body, max_pending)", 2)
    return host, DEFAULT_PORT if port is None else port, max_body, max_pending


def _size(argument: str, value: str) -> int:
    text = value.strip().lower().removesuffix("b")
    suffix = text[-1:] if text[-1:] in _SUFFIXES else ""
    number = text[: len(text) - len(suffix)]
    if not number.isdigit() or int(number) == 0:
        raise LogscopeError(f"{argument}: max_body: expected a size in bytes like 4m or 1048576", 2)
    return int(number) * _SUFFIXES[suffix]


class Rejection(Exception):
    """A request answered with an error status (and counted)."""

    def __init__(self, status: int, message: str, retry: bool = False, bad: bool = False) -> None:
        super().__init__(message)
        self.status, self.retry, self.bad = status, retry, bad


class OtlpReceiver:
    """The `otlp://` source: an HTTP server bound when created, serving until the pipeline stops."""

    reports_per_file = False

    def __init__(self, argument: str) -> None:
        host, port, self.max_body, self.max_pending = parse_otlp_spec(argument)
        self.sock = bind_inet(ListenSpec("tcp", host, port), argument)
        self.name = f"otlp://{format_address(self.sock.getsockname()[:2])}"
        self.address = self.name
        self.requests: Counter[int] = Counter()  # answers by HTTP status
        self.records: Counter[str] = Counter()  # accepted, rejected
        self.pending = 0  # records accepted and not yet handed to the pipeline
        self.stopping = False
        self._slots = threading.BoundedSemaphore(DECODE_SLOTS)
        self._lock = threading.Lock()
        self._handoff: queue.Queue[tuple[list[Record], int] | None] = queue.Queue()
        self._in_flight = 0
        self._connections = 0
        self._last_report = 0.0
        self._unreported = 0  # bad requests since the last report, and the first one's reason
        self._first_bad = ""
        self._closed = False  # the forwarder has stopped: nothing more can be accepted

    def size_hint(self) -> int | None:
        return None

    def request_figures(self) -> dict[int, int]:
        """Answers sent, by HTTP status (for `--metrics`)."""
        return dict(self.requests)

    def record_figures(self) -> dict[str, int]:
        """Log records accepted and rejected (for `--metrics`)."""
        return {"accepted": self.records["accepted"], "rejected": self.records["rejected"]}

    # --- running -------------------------------------------------------------------------------

    def run(self, ctx: SourceContext) -> None:
        server = _Server(self, ctx)
        forwarder = threading.Thread(target=self._forward, args=(ctx,), name=f"handoff:{self.name}")
        forwarder.start()
        serving = threading.Thread(target=server.serve_forever, args=(0.1,), name=f"http:{self.name}")
        serving.start()
        try:
            while not ctx.stop.wait(0.2):
                self._report_bad(ctx)
        finally:
            self.stopping = True  # requests from now on get 503
            server.shutdown()
            serving.join()
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            while self._in_flight and time.monotonic() < deadline:
                time.sleep(0.02)
            server.server_close()
            with self._lock:
                self._closed = True
                self._handoff.put(None)
            forwarder.join()
            self._report_bad(ctx, force=True)
            ctx.emit(LineBatch(self.name, [], now_us(), final=True))

    def _forward(self, ctx: SourceContext) -> None:
        """Hand accepted records to the pipeline in order (waiting while it is full)."""
        while (item := self._handoff.get()) is not None:
            records, size = item
            ctx.add_bytes(self.name, size)
            for start in range(0, len(records), EMIT_RECORDS):
                chunk = records[start : start + EMIT_RECORDS]
                ctx.emit(LineBatch(self.name, [], chunk[0].received_at, records=chunk))
                with self._lock:
                    self.pending -= len(chunk)

    # --- one request ---------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, ctx: SourceContext) -> None:
        with self._lock:
            self._in_flight += 1
        content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        answer_type = content_type if content_type in (PROTOBUF, JSON) else JSON
        status, retry = 500, False
        try:
            try:
                body = self._accept_safely(handler, content_type, ctx)
                status = 200
            except Rejection as problem:
                status, retry = problem.status, problem.retry
                body = status_body(str(problem), answer_type, bad_request=problem.bad)
                if status < 500 and status != 429:  # the client's mistake, not throttling
                    self._note_bad(str(problem), handler)
                self._discard_body(handler)
            finally:
                # Counted before the answer goes out: a client that has its answer (and then
                # reads /metrics) finds its request counted.
                with self._lock:
                    self.requests[status] += 1
            _answer(handler, status, body, answer_type, retry=retry)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _accept_safely(self, handler: BaseHTTPRequestHandler, content_type: str, ctx: SourceContext) -> bytes:
        """`_accept`; an unexpected failure (a bug of ours) is a 500, reported, and the receiver goes on."""
        try:
            return self._accept(handler, content_type)
        except Rejection:
            raise
        except Exception as exc:
            ctx.report_error(f"{self.name}: {type(exc).__name__}: {exc}", self.name)
            raise Rejection(500, f"internal error: {type(exc).__name__}") from None

    def _accept(self, handler: BaseHTTPRequestHandler, content_type: str) -> bytes:
        """Read, decode and queue a request's records; the success body to answer with."""
        if urlsplit(handler.path).path.rstrip("/") != LOGS_PATH:
            raise Rejection(404, f"no such endpoint {handler.path!r}: OTLP logs go to POST {LOGS_PATH}")
        if content_type not in (PROTOBUF, JSON):
            shown = content_type or "none"
            raise Rejection(415, f"unsupported Content-Type {shown!r}: use {PROTOBUF} or {JSON}")
        encoding = (handler.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("gzip", "identity", ""):
            raise Rejection(415, f"unsupported Content-Encoding {encoding!r}: use gzip or none")
        length = _content_length(handler)
        if length > self.max_body:
            raise Rejection(413, f"body of {length:,} bytes is over the limit of {self.max_body:,}")
        if self.stopping or self.pending >= self.max_pending:
            why = "shutting down" if self.stopping else "the store is behind"
            raise Rejection(503, f"{why}: retry after {RETRY_AFTER_SECONDS} s", retry=True)
        if not self._slots.acquire(timeout=SLOT_WAIT_SECONDS):
            raise Rejection(
                429, f"too many requests at once: retry after {RETRY_AFTER_SECONDS} s", retry=True
            )
        try:
            body = handler.rfile.read(length)
            handler.content_read = True  # type: ignore[attr-defined]
            if len(body) < length:
                handler.close_connection = True
                raise Rejection(400, f"body ended after {len(body)} of {length} bytes", bad=True)
            if encoding == "gzip":
                body = _gunzip(body, self.max_body)
            try:
                request, decoded = decode(body, content_type)
            except BadPayload as exc:
                raise Rejection(400, str(exc), bad=True) from None
            del body
            peer = handler.client_address[0] if handler.client_address else None
            to_records(request, decoded, self.name, peer, now_us())
        finally:
            self._slots.release()
        self._queue(decoded.records, length)
        return success_body(decoded, content_type)

    def _queue(self, records: list[Record], size: int) -> None:
        accepted = len(records)
        with self._lock:
            if self._closed:
                raise Rejection(503, "shutting down: retry after 1 s", retry=True)
            self.records["accepted"] += accepted
            if records:
                self.pending += accepted
                self._handoff.put((records, size))

    def _discard_body(self, handler: BaseHTTPRequestHandler) -> None:
        """Read an unread body away in small pieces so the client sees the answer (bounded)."""
        if getattr(handler, "content_read", False):
            return
        try:
            length = _content_length(handler)
        except Rejection:
            handler.close_connection = True  # where the body ends is unknown
            return
        if length > DISCARD_LIMIT_BYTES:
            handler.close_connection = True
            return
        try:
            while length > 0:
                piece = handler.rfile.read(min(length, 64 * 1024))
                if not piece:
                    break
                length -= len(piece)
        except OSError:
            handler.close_connection = True

    def _note_bad(self, message: str, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._unreported += 1
            if self._unreported == 1:
                peer = handler.client_address[0] if handler.client_address else "?"
                self._first_bad = f"{message} (from {peer})"

    def _report_bad(self, ctx: SourceContext, force: bool = False) -> None:
        """Bad requests as one line at most every 10 s: the first one's reason and the count."""
        now = time.monotonic()
        if not self._unreported or (not force and now - self._last_report < 10):
            return
        with self._lock:
            count, self._unreported = self._unreported, 0
            first = self._first_bad
        self._last_report = now
        more = f" and {count - 1} more" if count > 1 else ""
        ctx.report_error(f"{self.name}: bad request: {first}{more}", self.name, count)

    def connection_opened(self) -> bool:
        with self._lock:
            if self._connections >= MAX_CONNECTIONS:
                return False
            self._connections += 1
            return True

    def connection_closed(self) -> None:
        with self._lock:
            self._connections -= 1


def _content_length(handler: BaseHTTPRequestHandler) -> int:
    text = handler.headers.get("Content-Length")
    if text is None:
        raise Rejection(411, "a Content-Length is required")
    if not text.strip().isdigit():
        raise Rejection(400, f"bad Content-Length {text!r}", bad=True)
    return int(text)


def _gunzip(body: bytes, limit: int) -> bytes:
    """The gzip body decompressed, refusing more than `limit` bytes (a gzip bomb is a 413)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise Rejection(400, f"invalid gzip body: {exc}", bad=True) from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise Rejection(413, f"body decompresses to over the limit of {limit:,} bytes")
    if not inflater.eof:
        raise Rejection(400, "invalid gzip body: truncated", bad=True)
    return data


def _answer(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, retry=False
) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        if retry:
            handler.send_header("Retry-After", str(RETRY_AFTER_SECONDS))
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        handler.close_connection = True  # the client went away; its records (if any) are kept


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as OTLP clients expect
    server_version = "logscope-otlp"
    timeout = IDLE_SECONDS
    server: _Server

    def do_POST(self) -> None:
        self.content_read = False
        self.server.receiver.handle(self, self.server.ctx)

    def _not_allowed(self) -> None:
        body = status_body(f"use POST {LOGS_PATH}", JSON)
        self.close_connection = True
        self.server.receiver._note_bad(f"method {self.command} not allowed", self)
        _answer(self, 405, body, JSON)
        with self.server.receiver._lock:
            self.server.receiver.requests[405] += 1

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    """The HTTP server on the receiver's bound socket; one thread per connection, capped."""

    daemon_threads = True

    def __init__(self, receiver: OtlpReceiver, ctx: SourceContext) -> None:
        self.receiver, self.ctx = receiver, ctx
        super().__init__(receiver.sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = receiver.sock

    def process_request(self, request, client_address) -> None:
        if not self.receiver.connection_opened():
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.receiver.connection_closed()

    def handle_error(self, request, client_address) -> None:
        pass  # a client that went away mid-request; nothing of its was accepted
