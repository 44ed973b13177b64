"""Node's pino through pino-pretty writes its log; `logscope ingest` must read it as written.

pino and pino-pretty are not in Debian: the test installs them from the npm registry with npm (in
a temporary directory; `.ci/run` installs npm) and skips, saying so, when npm is missing or the
registry cannot be reached. A Node program logs through pino; its JSON lines go through the
pino-pretty command, with its default time of day and with `--translateTime SYS:standard`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from real_programs import (
    assert_parsed,
    assert_times_from_lines,
    count_lines,
    ingest,
    now,
    npm_program,
    program,
)

ROUNDS = 10
PINO_PROGRAM = f"""const pino = require('pino');
const logger = pino({{ level: 'trace' }});
for (let n = 0; n < {ROUNDS}; n++) {{
  logger.info({{ order: n }}, 'order placed');
  logger.warn('slow login');
  logger.error(new Error('database connection lost'), 'query failed');
  logger.debug('cache miss');
}}
logger.fatal('shutting down');
"""
LEVELS = {"info": ROUNDS, "warning": ROUNDS, "error": ROUNDS, "debug": ROUNDS, "fatal": 1}


@pytest.fixture(scope="module")
def pino_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with pino and pino-pretty installed from the npm registry."""
    root = tmp_path_factory.mktemp("pino")
    return npm_program(root, ["pino@10", "pino-pretty@13"], PINO_PROGRAM, "pino and pino-pretty")


@pytest.mark.slow
@pytest.mark.parametrize("options", [(), ("--translateTime", "SYS:standard")], ids=["default", "standard"])
def test_pino_pretty(options: tuple[str, ...], pino_dir: Path, db: Path) -> None:
    node = program("node")
    log = pino_dir / f"pretty{len(options)}.log"
    env = {**os.environ, "TZ": "UTC"}
    start = now()
    with log.open("wb") as out:
        app = subprocess.Popen([node, "app.js"], cwd=pino_dir, env=env, stdout=subprocess.PIPE)
        pretty = [node, str(pino_dir / "node_modules/.bin/pino-pretty"), "--colorize", "false", *options]
        subprocess.run(pretty, stdin=app.stdout, stdout=out, env=env, check=True, timeout=60)
        assert app.wait(30) == 0
    end = now()
    stored = ingest(log, db, "--tz", "UTC")
    assert_parsed(stored, {"pino_pretty"}, share=1.0)
    headers = count_lines(log, lambda line: re.match(r"\[[\d:. +-]+\] [A-Z]+ \(\d+\): ", line) is not None)
    assert len(stored.rows) == headers == 4 * ROUNDS + 1  # `order: N` and the error's stack joined
    assert_times_from_lines(stored.rows, start, end)
    assert dict(stored.levels) == LEVELS
    failed = next(row for row in stored.rows if row[3] == "error")
    assert "\n    err: {" in failed[4] and "Error: database connection lost" in failed[4]
