"""The pipeline with real sources and a real DuckDB store: batching, backpressure, failures."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from logscope.parsing.registry import builtin_registry
from logscope.pipeline.streaming import QUEUE_BATCHES, Pipeline
from logscope.record import Record
from logscope.sources.readers import CHUNK_BYTES, FileReader
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter


def write_lines(path: Path, count: int) -> None:
    path.write_text("".join(f"seq={n} msg=line-{n:07d}-{'x' * 40}\n" for n in range(count)))


@pytest.mark.slow
def test_a_slow_consumer_slows_the_reader_and_nothing_is_dropped(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    write_lines(log, 300_000)  # about 22 chunks of 1 MiB
    assert log.stat().st_size > 15 * CHUNK_BYTES
    con = open_for_writing(":memory:")
    pipeline = Pipeline(LogWriter(con), builtin_registry(dt.UTC), flush_rows=5_000)
    seen: list[int] = []
    depth: list[int] = []

    def slow(records: list[Record]) -> None:
        depth.append(pipeline._queue.qsize())
        seen.append(len(records))
        time.sleep(0.01)

    pipeline.subscribe(slow)
    pipeline.add_source(FileReader(str(log)))
    summary = pipeline.run()
    assert summary.lines == 300_000 == sum(seen)
    assert max(depth) <= QUEUE_BATCHES
    assert con.execute("SELECT count(*), count(DISTINCT fields->>'seq') FROM logs").fetchone() == (
        300_000,
        300_000,
    )


def test_records_are_committed_in_batches_not_one_by_one(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write_lines(log, 20_000)
    con = open_for_writing(":memory:")
    batches: list[int] = []
    pipeline = Pipeline(LogWriter(con), builtin_registry(dt.UTC), flush_rows=50_000)
    pipeline.subscribe(lambda records: batches.append(len(records)))
    pipeline.add_source(FileReader(str(log)))
    pipeline.run()
    assert sum(batches) == 20_000
    assert len(batches) <= 3


def test_a_failing_store_stops_the_run_with_a_message(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write_lines(log, 1_000)
    con = open_for_writing(":memory:")
    writer = LogWriter(con)
    con.execute("DROP TABLE logs")  # the store breaks under the running writer
    pipeline = Pipeline(writer, builtin_registry(dt.UTC))
    pipeline.add_source(FileReader(str(log)))
    done = threading.Event()

    def run() -> None:
        pipeline.run()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(10), "the pipeline hung after the store failed"
    assert pipeline.fatal is not None and "logs" in pipeline.fatal
