"""Network listeners: TCP, UDP, unix stream and unix datagram sockets."""

from __future__ import annotations

from logscope.sources.base import Source
from logscope.sources.net.address import parse_listen_spec
from logscope.sources.net.datagram import DatagramListener
from logscope.sources.net.stream import StreamListener


def listener(argument: str) -> Source:
    """A bound listener for `tcp://`, `udp://`, `unix://` or `unixgram://` (LogscopeError if not)."""
    spec = parse_listen_spec(argument)
    if spec.is_stream:
        return StreamListener(spec, argument)
    return DatagramListener(spec, argument)
