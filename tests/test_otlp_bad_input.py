"""Bad input for the OTLP receiver: a 50 MB body, a gzip bomb, invalid protobuf and JSON, a wrong
content type, path and method, and a flood from 8 clients against a small pending limit: clear
status codes with google.rpc.Status bodies, counted errors, bounded memory, nothing accepted lost."""

from __future__ import annotations

import gzip
import http.client
import json
import random
import socket
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from conftest import query_db
from google.rpc import error_details_pb2, status_pb2
from otlp_helpers import Receiver, post, protobuf_request
from ports import worker_port
from prometheus_client.parser import text_string_to_metric_families

from logscope.parsing.otlp_decode import BadPayload, decode, to_records

PORT = worker_port(47744)
METRICS_PORT = worker_port(47745)


@pytest.fixture
def receiver(tmp_path: Path):
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(tmp_path, PORT, metrics_port=METRICS_PORT, **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.kill()


def status_of(body: bytes) -> status_pb2.Status:
    status = status_pb2.Status()
    status.ParseFromString(body)
    return status


def otlp_counts() -> tuple[dict[str, float], dict[str, float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as response:
        text = response.read().decode()
    requests, records = {}, {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "logscope_otlp_requests_total":
                requests[sample.labels["code"]] = sample.value
            elif sample.name == "logscope_otlp_records_total":
                records[sample.labels["outcome"]] = sample.value
    return requests, records


@pytest.mark.slow
def test_bad_requests_get_clear_answers_are_counted_and_the_receiver_goes_on(receiver) -> None:
    run = receiver(options="?max_body=1m")
    before = run.peak_memory_kib()

    # 50 MB: refused on its Content-Length, read away in small pieces (the client sees the 413).
    status, _, body = post(run.port, b"\x0a" * (50 * 1024 * 1024))
    assert status == 413
    assert "over the limit of 1,048,576" in status_of(body).message
    # A gzip bomb: 50 MB of zeros in ~50 KB, refused while decompressing.
    status, _, body = post(run.port, gzip.compress(bytes(50 * 1024 * 1024)), **{"Content-Encoding": "gzip"})
    assert status == 413
    assert "decompresses to over the limit" in status_of(body).message
    grown = run.peak_memory_kib() - before
    assert grown < 20 * 1024, f"peak memory grew by {grown} KiB"

    status, headers, body = post(run.port, b"\xff\xff\xff\xff not protobuf")
    assert status == 400
    assert headers["Content-Type"] == "application/x-protobuf"
    problem = status_of(body)
    assert problem.code == 3 and "invalid protobuf ExportLogsServiceRequest" in problem.message
    detail = error_details_pb2.BadRequest()
    assert problem.details[0].Unpack(detail)
    assert detail.field_violations[0].field == "body"

    status, headers, body = post(run.port, b'{"resourceLogs": [', "application/json")
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert "invalid JSON" in json.loads(body)["message"]
    status, _, body = post(run.port, b'{"resourceLogs": "no"}', "application/json")
    assert status == 400 and "invalid JSON ExportLogsServiceRequest" in json.loads(body)["message"]
    status, _, body = post(run.port, b"not gzip", **{"Content-Encoding": "gzip"})
    assert status == 400 and "invalid gzip body" in status_of(body).message

    status, _, body = post(run.port, b"hello", "text/plain")
    assert status == 415 and "unsupported Content-Type 'text/plain'" in json.loads(body)["message"]
    status, _, _ = post(run.port, b"x", **{"Content-Encoding": "br"})
    assert status == 415
    status, _, body = post(run.port, protobuf_request(["x"]), path="/v1/traces")
    assert status == 404 and "POST /v1/logs" in status_of(body).message
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(run.url, timeout=5)
    assert answer.value.code == 405

    # A chunked body (no Content-Length) is refused, and the connection closed.
    with socket.create_connection(("127.0.0.1", run.port), timeout=10) as raw:
        raw.sendall(
            b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        answer = raw.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 411 ") and b"Connection: close" in answer

    # Still serving, and the good request after all that is stored.
    status, _, body = post(run.port, protobuf_request(["after the bad ones"]))
    assert status == 200 and body == b""
    requests, records = otlp_counts()
    assert requests == {"200": 1, "400": 4, "404": 1, "405": 1, "411": 1, "413": 2, "415": 2}
    assert records == {"accepted": 1, "rejected": 0}
    assert run.alive()
    stderr = run.stop()
    assert "Traceback" not in stderr
    assert "bad request: body of 52,428,800 bytes is over the limit of 1,048,576 (from 127.0.0.1)" in stderr
    assert (
        "bad request: body decompresses to over the limit of 1,048,576 bytes (from 127.0.0.1) and 9 more"
        in stderr
    )
    assert query_db(run.db, "SELECT message FROM logs") == [("after the bad ones",)]
    # Each bad request counts as an error of the source (`logscope status`, the stats table).
    assert query_db(run.db, "SELECT max(errors) FROM stats WHERE source LIKE 'otlp://%'") == [(11,)]


@pytest.mark.slow
def test_a_flood_from_8_clients_is_held_back_with_503_and_nothing_accepted_is_lost(receiver) -> None:
    run = receiver(options="?max_pending=200")
    answers: Counter[int] = Counter()
    accepted: list[str] = []
    retry_after: set[str | None] = set()
    lock = threading.Lock()

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", run.port, timeout=30)
        for request in range(25):
            bodies = [f"client {number} request {request} record {i}" for i in range(400)]
            payload = protobuf_request(bodies, service=f"client-{number}")
            while True:
                connection.request(
                    "POST", "/v1/logs", body=payload, headers={"Content-Type": "application/x-protobuf"}
                )
                response = connection.getresponse()
                response.read()
                with lock:
                    answers[response.status] += 1
                    if response.status == 200:
                        accepted.extend(bodies)
                        break
                    retry_after.add(response.getheader("Retry-After"))
                time.sleep(0.02)  # a test client: sooner than Retry-After asks
        connection.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.monotonic() - started
    assert set(answers) <= {200, 429, 503}, answers
    assert answers[200] == 8 * 25
    assert answers[503] > 0, f"no backpressure seen in {elapsed:.1f} s: {answers}"
    assert retry_after == {"1"}
    requests, records = otlp_counts()
    assert requests.get("503", 0) == answers[503] and requests["200"] == answers[200]
    assert records["accepted"] == len(accepted) == 8 * 25 * 400
    stderr = run.stop()
    assert "Traceback" not in stderr
    stored = query_db(run.db, "SELECT count(*), count(DISTINCT message), count(DISTINCT source) FROM logs")
    assert stored == [(len(accepted), len(accepted), 8)]


def test_mutated_payloads_decode_or_are_bad_payloads_never_anything_else() -> None:
    """Random byte flips, cuts and splices of a real request, in both encodings: each decodes to
    records or is a BadPayload (a 400), never another exception (a 500 or a dead receiver)."""
    rng = random.Random(20)
    protobuf = protobuf_request([f"record {i}" for i in range(5)], **{"http.status_code": "200"})
    json_body = json.dumps(
        {
            "resourceLogs": [
                {"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}, "traceId": "ab" * 16}]}]}
            ]
        }
    ).encode()
    outcomes: Counter[str] = Counter()
    for content_type, original in (("application/x-protobuf", protobuf), ("application/json", json_body)):
        for _ in range(1500):
            body = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                position = rng.randrange(len(body))
                choice = rng.random()
                if choice < 0.6:
                    body[position] = rng.randrange(256)
                elif choice < 0.8:
                    del body[position:]
                else:
                    body[position:position] = rng.randbytes(rng.randint(1, 8))
                if not body:
                    body = bytearray(b"\x00")
            try:
                request, decoded = decode(bytes(body), content_type)
                to_records(request, decoded, "otlp://test", "127.0.0.1", 0)
                outcomes["decoded"] += 1
            except BadPayload:
                outcomes["bad"] += 1
    assert outcomes["decoded"] > 100 and outcomes["bad"] > 100, outcomes
