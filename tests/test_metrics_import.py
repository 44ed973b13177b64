"""A run that serves no `--metrics` endpoint (a following `tail`) never imports prometheus_client
(~1.3 MB of modules it would not use); one that serves it does. The real run assembly, with its
query service, in a fresh interpreter that has imported what `tail` imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs" / "nginx_access.log"

PROGRAM = """
import sys
from datetime import UTC

import logscope.commands.tail, logscope.commands.tail_start  # what `tail` imports
from logscope.parsing.registry import builtin_registry
from logscope.pipeline.rules import RuleSettings
from logscope.pipeline.run import IngestRun, RunSettings
from logscope.pipeline.services import ServiceSettings
from logscope.sources.readers import FileReader
from logscope.store.database import open_for_writing

db, sample, metrics = sys.argv[1], sys.argv[2], sys.argv[3] or None
con = open_for_writing(db)
services = ServiceSettings(metrics=metrics, quiet=True)
settings = RunSettings(db, rules=RuleSettings(), services=services)
run = IngestRun(con, builtin_registry(UTC), None, settings, print)
run.add_sources([FileReader(sample)])
summary = run.run()
con.close()
print(summary.lines, "prometheus_client" in sys.modules)
"""


def run_loads_prometheus(db: Path, metrics: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(db), str(SAMPLE), metrics],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines, loaded = done.stdout.split()[-2:]
    assert int(lines) > 0, done.stdout
    return loaded == "True"


def test_prometheus_client_is_imported_only_for_a_metrics_endpoint(tmp_path: Path) -> None:
    assert not run_loads_prometheus(tmp_path / "plain.duckdb", "")
    assert run_loads_prometheus(tmp_path / "metrics.duckdb", "127.0.0.1:0")
