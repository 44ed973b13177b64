"""Listener specs (`tcp://HOST:PORT`, `udp://…`, `unix:///path`, `unixgram:///path`) and binding."""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import socket
import stat
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from logscope.errors import LogscopeError
from logscope.record import LineBatch, now_us
from logscope.sources.base import SourceContext
from logscope.sources.net.framing import MAX_MESSAGE_BYTES

DEFAULT_HOST = "127.0.0.1"
LISTEN_BACKLOG = 512
# Asked of the kernel for datagram sockets; it may grant less (net.core.rmem_max).
DATAGRAM_RECEIVE_BUFFER = 8 * 1024 * 1024
_SUFFIXES = {"": 1, "k": 1024, "m": 1024 * 1024}
# Stream listener limits (`?idle_timeout=`, `?max_connections=`, `?max_connections_per_client=`).
IDLE_TIMEOUT_SECONDS = 300.0
MAX_CONNECTIONS = 1024
MAX_CONNECTIONS_PER_CLIENT = 256
_STREAM_OPTIONS = ("idle_timeout", "max_connections", "max_connections_per_client")


@dataclass
class ListenSpec:
    """A parsed listener argument."""

    scheme: str  # tcp, udp, unix, unixgram
    host: str | None = None
    port: int | None = None
    path: str | None = None
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # Datagram listeners: datagrams held for the pipeline before more are dropped (None: default).
    buffer_messages: int | None = None
    # Stream listeners: a connection that sends nothing this long is closed (0: never).
    idle_timeout: float = IDLE_TIMEOUT_SECONDS
    # Stream listeners: connections open at once, in all and from one client (IP address, or
    # uid for unix sockets). At a limit, the connection idle longest makes room for a new one.
    max_connections: int = MAX_CONNECTIONS
    max_connections_per_client: int = MAX_CONNECTIONS_PER_CLIENT

    @property
    def is_stream(self) -> bool:
        return self.scheme in ("tcp", "unix")

    @property
    def is_unix(self) -> bool:
        return self.scheme in ("unix", "unixgram")


def parse_listen_spec(argument: str) -> ListenSpec:
    """Read `SCHEME://ADDRESS[?max_message=BYTES][&buffer=DATAGRAMS]`; a one-line error otherwise."""
    scheme, _, rest = argument.partition("://")
    address, _, query = rest.partition("?")
    spec = ListenSpec(scheme)
    if scheme in ("unix", "unixgram"):
        if not address:
            raise LogscopeError(f"{argument}: a socket path is needed, e.g. {scheme}:///run/app.sock", 2)
        spec.path = address
    elif scheme in ("tcp", "udp"):
        try:
            parts = urlsplit(f"//{address}")
            port = parts.port
        except ValueError as exc:
            raise LogscopeError(f"{argument}: {exc}", 2) from None
        if port is None:
            raise LogscopeError(f"{argument}: a port is needed, e.g. {scheme}://127.0.0.1:5140", 2)
        spec.host = parts.hostname or DEFAULT_HOST
        spec.port = port
    else:
        raise LogscopeError(f"{argument}: unknown listener scheme {scheme!r}", 2)
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in ("max_message", "max_message_bytes"):
            spec.max_message_bytes = _parse_size(argument, key, value)
        elif key == "buffer" and not spec.is_stream:
            if not value.isdigit() or int(value) == 0:
                raise LogscopeError(f"{argument}: buffer: expected a number of datagrams like 100000", 2)
            spec.buffer_messages = int(value)
        elif key == "idle_timeout" and spec.is_stream:
            spec.idle_timeout = _parse_seconds(argument, value)
        elif key in _STREAM_OPTIONS and spec.is_stream:
            if not value.isdigit() or int(value) == 0:
                raise LogscopeError(f"{argument}: {key}: expected a number of connections like 100", 2)
            setattr(spec, key, int(value))
        else:
            known = ", ".join(("max_message", *_STREAM_OPTIONS)) if spec.is_stream else "max_message, buffer"
            raise LogscopeError(f"{argument}: unknown option {key!r} (known: {known})", 2)
    return spec


def _parse_seconds(argument: str, value: str) -> float:
    try:
        seconds = float(value.strip().lower().removesuffix("s"))
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise LogscopeError(f"{argument}: idle_timeout: expected seconds like 300 (0: never)", 2)
    return seconds


def _parse_size(argument: str, key: str, value: str) -> int:
    """A size in bytes (`64k`, `1m`) given as option `key` (named in the error as typed)."""
    text = value.strip().lower().removesuffix("b")
    suffix = text[-1:] if text[-1:] in _SUFFIXES else ""
    number = text[: len(text) - len(suffix)]
    if not number.isdigit() or int(number) == 0:
        raise LogscopeError(f"{argument}: {key}: expected a size in bytes like 65536 or 64k", 2)
    return int(number) * _SUFFIXES[suffix]


def format_address(address: object) -> str | None:
    """A peer address as text: `1.2.3.4:567`, `[::1]:567`; None for an unnamed unix peer."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(address, (str, bytes)) and address:
        return address.decode(errors="replace") if isinstance(address, bytes) else address
    return None


def listener_url(spec: ListenSpec, sock: socket.socket) -> str:
    """The listener's name as bound (a port of 0 replaced by the port the kernel chose)."""
    if spec.is_unix:
        return f"{spec.scheme}://{spec.path}"
    host, port = sock.getsockname()[:2]
    return f"{spec.scheme}://{format_address((host, port))}"


def bind_inet(spec: ListenSpec, argument: str) -> socket.socket:
    """A TCP or UDP socket bound to the spec's address (listening, for TCP)."""
    kind = socket.SOCK_STREAM if spec.is_stream else socket.SOCK_DGRAM
    try:
        infos = socket.getaddrinfo(spec.host, spec.port, type=kind, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise LogscopeError(f"{argument}: cannot resolve {spec.host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if spec.is_stream:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        else:
            _grow_receive_buffer(sock)
        sock.bind(address)
        if spec.is_stream:
            sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise LogscopeError(f"{argument}: cannot listen: {_bind_problem(exc)}") from None
    return sock


def _bind_problem(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use (another program is listening there)"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address"
    return exc.strerror or str(exc)


def _grow_receive_buffer(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, DATAGRAM_RECEIVE_BUFFER)


class UnixSocketFile:
    """A unix socket bound at a path, owner-only (0600), whose file is removed when it closes."""

    def __init__(self, spec: ListenSpec, argument: str) -> None:
        assert spec.path is not None
        self.path = spec.path
        kind = socket.SOCK_STREAM if spec.is_stream else socket.SOCK_DGRAM
        _remove_stale(self.path, kind, argument)
        self.sock = socket.socket(socket.AF_UNIX, kind)
        previous = os.umask(0o177)
        try:
            self.sock.bind(self.path)
            os.chmod(self.path, 0o600)
            if spec.is_stream:
                self.sock.listen(LISTEN_BACKLOG)
            else:
                _grow_receive_buffer(self.sock)
        except OSError as exc:
            self.sock.close()
            raise LogscopeError(f"{argument}: cannot listen: {exc.strerror or exc}") from None
        finally:
            os.umask(previous)
        info = os.stat(self.path)
        self._identity = (info.st_dev, info.st_ino)
        atexit.register(self.remove)

    def remove(self) -> None:
        """Close the socket and remove its file, if the file is still ours."""
        self.sock.close()
        with contextlib.suppress(OSError):
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == self._identity:
                os.unlink(self.path)
        atexit.unregister(self.remove)


def _remove_stale(path: str, kind: int, argument: str) -> None:
    """Remove a socket file nobody listens on any more; refuse anything else at the path."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise LogscopeError(f"{argument}: {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, kind)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)
        return
    except OSError as exc:
        raise LogscopeError(f"{argument}: cannot listen: {exc.strerror or exc}") from None
    finally:
        probe.close()
    raise LogscopeError(f"{argument}: cannot listen: another program is listening on {path}")


class BoundListener:
    """What every listener shares: its socket, bound when it is created, and its closing."""

    def __init__(self, spec: ListenSpec, argument: str) -> None:
        self.spec = spec
        self._unix: UnixSocketFile | None = None
        if spec.is_unix:
            self._unix = UnixSocketFile(spec, argument)
            self.sock = self._unix.sock
        else:
            self.sock = bind_inet(spec, argument)
        self.name = listener_url(spec, self.sock)
        self.address = self.name
        self._local_host = socket.gethostname() if spec.is_unix else None

    def size_hint(self) -> int | None:
        return None

    def _close(self, ctx: SourceContext) -> None:
        """Close the socket (removing a unix socket's file) and tell the pipeline the source ended."""
        if self._unix is not None:
            self._unix.remove()
        else:
            self.sock.close()
        ctx.emit(LineBatch(self.name, [], now_us(), final=True))
