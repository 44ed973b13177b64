"""Four agents following four growing files into one lake on a real PostgreSQL catalog: one is
`kill -9`ed and restarted, PostgreSQL is stopped for a while and started again, and then every
line is in the lake exactly once; a fifth process sees new records within seconds."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import cli_env, run_cli
from lake_helpers import PostgresCluster, lake_url

from logscope.lake.config import resolve_lake
from logscope.lake.reader import open_lake_for_reading

AGENTS = 4
LINES_PER_TICK = 10  # per file, every TICK seconds: 100 lines/s per agent
TICK = 0.1
FRESH_SECONDS = 5.0
OUTAGE_SECONDS = 5.0
OUTAGE_SEEN = "records stay local and are sent later"  # what an agent reports when the lake is down


class Appender(threading.Thread):
    """Appends numbered lines to each file until stopped; `lines` is everything written."""

    def __init__(self, files: list[Path]) -> None:
        super().__init__(daemon=True)
        self.files = files
        self.lines: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        serial = 0
        while not self.stop.is_set():
            for index, path in enumerate(self.files):
                batch = [
                    f"2026-12-07T04:00:00Z node{index} app[9]: job {index}-{serial + n} done"
                    for n in range(LINES_PER_TICK)
                ]
                with open(path, "a") as handle:
                    handle.write("".join(line + "\n" for line in batch))
                self.lines += batch
            serial += LINES_PER_TICK
            time.sleep(TICK)


def _agent(index: int, tmp: Path, url: str) -> subprocess.Popen:
    log = open(tmp / f"agent{index}.err", "ab")  # noqa: SIM115  (the process writes to it)
    command = [sys.executable, "-m", "logscope", "ingest", "--follow", "-q", "--no-patterns"]
    command += ["--db", str(tmp / f"agent{index}.duckdb"), "--lake", url, "--agent", f"agent{index}"]
    return subprocess.Popen([*command, str(tmp / f"app{index}.log")], stderr=log, env=cli_env())


def _agent_errors(tmp: Path) -> str:
    return "".join((tmp / f"agent{index}.err").read_text() for index in range(AGENTS))


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _count(con, sql: str, params: list | None = None) -> int:
    return con.execute(sql, params or []).fetchone()[0]


@pytest.mark.slow
def test_four_agents_kill_and_catalog_outage_every_line_exactly_once(tmp_path: Path) -> None:
    postgres = PostgresCluster()
    agents: list[subprocess.Popen] = []
    try:
        (tmp_path / "lake").mkdir()
        url = lake_url(postgres.create_database("fleet"), tmp_path / "lake")
        assert run_cli("lake", "init", url).returncode == 0
        files = [tmp_path / f"app{index}.log" for index in range(AGENTS)]
        for path in files:
            path.touch()
        appender = Appender(files)
        appender.start()
        agents = [_agent(index, tmp_path, url) for index in range(AGENTS)]
        reader = open_lake_for_reading(resolve_lake(url))  # the fifth process: this one
        _wait_for(lambda: _count(reader, "SELECT count(DISTINCT agent) FROM lake.shipments") == AGENTS)
        reader.close()
        agents[0].send_signal(signal.SIGKILL)  # kill -9, mid-stream
        agents[0].wait()
        agents[0] = _agent(0, tmp_path, url)
        postgres.stop()  # the catalog is down: agents keep storing locally
        outage = time.monotonic()
        _wait_for(lambda: OUTAGE_SEEN in _agent_errors(tmp_path))
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage)))
        postgres.start()
        time.sleep(1)
        appender.stop.set()
        appender.join()

        reader = open_lake_for_reading(resolve_lake(url))
        _wait_for(lambda: _count(reader, "SELECT count(*) FROM logs") >= len(appender.lines), 120)
        raws = [row[0] for row in reader.execute("SELECT raw FROM logs").fetchall()]
        assert len(raws) == len(appender.lines)
        assert sorted(raws) == sorted(appender.lines)  # every line, exactly once

        # New records reach a reader within seconds.
        marker = "2026-12-07T04:10:00Z node2 app[9]: marker line"
        with open(files[2], "a") as handle:
            handle.write(marker + "\n")
        written = time.monotonic()
        while not _count(reader, "SELECT count(*) FROM logs WHERE raw = ?", [marker]):
            assert time.monotonic() - written < FRESH_SECONDS, "the marker did not reach the lake in time"
            time.sleep(0.1)
        reader.close()

        counts = run_cli(
            "query", "--lake", url, "--tsv", "SELECT agent, count(*) FROM logs GROUP BY 1 ORDER BY 1"
        )
        per_agent = [line.split("\t") for line in counts.stdout.splitlines()[1:]]
        assert [agent for agent, _ in per_agent] == [f"agent{index}" for index in range(AGENTS)]
        assert sum(int(count) for _, count in per_agent) == len(appender.lines) + 1
    finally:
        for agent in agents:
            agent.send_signal(signal.SIGTERM)
        for agent in agents:
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
        postgres.close()
