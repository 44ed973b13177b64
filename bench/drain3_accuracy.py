"""Grouping accuracy of drain3 with its default settings on the same Loghub 2k samples and ground
truth as tests/test_patterns_accuracy.py: the comparison in docs/benchmarks.md ("Log patterns").

drain3 is not a dependency of logscope: run this from a scratch virtualenv that has it.

    python3 -m venv /tmp/drain3 && /tmp/drain3/bin/pip install drain3
    /tmp/drain3/bin/python bench/drain3_accuracy.py
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # not installed there: the modules on this import's way are stdlib only
from logscope.patterns.accuracy import LOGHUB_SYSTEMS, grouping_accuracy, structured_rows  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "loghub"


def main() -> None:
    logging.disable(logging.CRITICAL)  # drain3 logs every new cluster
    total = 0.0
    for system in LOGHUB_SYSTEMS:
        rows = structured_rows(CORPUS, system)
        miner = TemplateMiner(config=TemplateMinerConfig())  # the defaults: no masking, sim_th 0.4, depth 4
        found = [miner.add_log_message(row["Content"].strip())["cluster_id"] for row in rows]
        accuracy = grouping_accuracy([row["EventTemplate"] for row in rows], found)
        total += accuracy
        print(f"{system:<12} {accuracy:.3f}")
    print(f"{'average':<12} {total / len(LOGHUB_SYSTEMS):.4f}")


if __name__ == "__main__":
    main()
