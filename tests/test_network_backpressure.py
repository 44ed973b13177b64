"""Backpressure against a real pipeline that cannot keep up: TCP waits, UDP counts its drops."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC

import pytest

from logscope.parsing.registry import builtin_registry
from logscope.pipeline.streaming import Pipeline
from logscope.record import Record
from logscope.sources.spec import network_source


class StalledPipeline:
    """A real pipeline whose first commit waits until released: the queue fills behind it."""

    def __init__(self) -> None:
        self.pipeline = Pipeline(None, builtin_registry(UTC))
        self.release = threading.Event()
        self.stalled = threading.Event()
        self.stored: list[Record] = []
        self.pipeline.subscribe(self._take)

    def _take(self, records: list[Record]) -> None:
        self.stalled.set()
        self.release.wait(60)
        self.stored.extend(records)

    def finish(self) -> None:
        self.release.set()
        time.sleep(0.3)
        self.pipeline.request_stop()
        assert self.pipeline.wait(60)


def test_udp_drops_what_it_cannot_buffer_and_counts_every_one() -> None:
    listener = network_source("udp://127.0.0.1:0")
    listener.buffer_messages = 50
    stalled = StalledPipeline()
    stalled.pipeline.add_source(listener)
    stalled.pipeline.start()
    sent = 5000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"<14>udp message first", listener.sock.getsockname())
        assert stalled.stalled.wait(30)
        for i in range(1, sent):
            sender.sendto(b"<14>udp message %d" % i, listener.sock.getsockname())
            if i % 50 == 0:
                time.sleep(0.001)
    time.sleep(0.5)
    stalled.finish()
    drops = stalled.pipeline.stats[listener.name].drops
    # The queue holds 64 batches of at most 50 (the buffer): the rest had to go, each one counted.
    assert drops >= sent - 65 * 50
    assert len(stalled.stored) + drops == sent
    assert len({record.message for record in stalled.stored}) == len(stalled.stored)


@pytest.mark.slow
def test_tcp_stops_reading_instead_of_dropping() -> None:
    listener = network_source("tcp://127.0.0.1:0")
    # Small reads and socket buffers, so a stalled pipeline fills up with little data.
    listener.read_bytes = 4096
    listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    stalled = StalledPipeline()
    stalled.pipeline.add_source(listener)
    stalled.pipeline.start()
    sent = 100_000
    payload = b"".join(b"<14>tcp message %d\n" % i for i in range(sent))
    finished = threading.Event()

    def send() -> None:
        with socket.create_connection(listener.sock.getsockname()) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
            client.sendall(b"<14>first\n")
            assert stalled.stalled.wait(30)
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            while client.recv(4096):
                pass
        finished.set()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    # While the pipeline is stalled the sender is held back by TCP flow control, not dropped.
    assert not finished.wait(1.5)
    stalled.release.set()
    assert finished.wait(60)
    stalled.finish()
    assert stalled.pipeline.stats[listener.name].drops == 0
    assert len(stalled.stored) == sent + 1
    assert stalled.stored[-1].message == f"tcp message {sent - 1}"


def test_udp_datagram_over_the_cap_is_cut_and_marked() -> None:
    listener = network_source("udp://127.0.0.1:0?max_message=100")
    pipeline = Pipeline(None, builtin_registry(UTC))
    stored: list[Record] = []
    pipeline.subscribe(stored.extend)
    pipeline.add_source(listener)
    pipeline.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"<14>" + b"a" * 996, listener.sock.getsockname())
        sender.sendto(b"<14>short\n", listener.sock.getsockname())
    time.sleep(0.3)
    pipeline.request_stop()
    assert pipeline.wait(30)
    long, short = stored
    assert long.raw == "<14>" + "a" * 96
    assert long.fields["truncated"] is True and long.fields["truncated_bytes"] == 900
    assert short.message == "short" and "truncated" not in short.fields
