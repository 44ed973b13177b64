"""Grouping accuracy of the pattern miner on the loghub 2k samples (../shared/corpus/loghub).

Each system's raw log is parsed by logscope's own formats (as `ingest` would), the miner mines the
`message` of every record with its one default setting, and the groups it makes are compared with
the `EventTemplate` ground truth as the logpai benchmark does (Zhu et al., ICSE-SEIP 2019): a
message counts as right when its true group is reproduced exactly. docs/patterns.md has the table.
"""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC

import pytest
from conftest import CORPUS, REPO

from logscope.parsing.registry import builtin_registry
from logscope.parsing.source_parser import SourceParser
from logscope.patterns.accuracy import LOGHUB_SYSTEMS, grouping_accuracy, structured_rows
from logscope.patterns.miner import Miner
from logscope.record import LineBatch

BAR = 0.95  # the average over all 16 systems


def system_accuracy(system: str) -> tuple[float, int, int]:
    """(grouping accuracy, patterns found, true templates) for one system."""
    folder = CORPUS / system
    lines = (folder / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
    truth = [row["EventTemplate"] for row in structured_rows(CORPUS, system)]
    records = SourceParser(builtin_registry(UTC)).parse_batch(LineBatch(system, lines, final=True))
    assert len(records) == len(truth), f"{system}: {len(records)} records for {len(truth)} lines"
    miner = Miner()
    found = [miner.root(pattern_id) for pattern_id in miner.assign([r.message for r in records])]
    return grouping_accuracy(truth, found), len(set(found)), len(set(truth))


def test_grouping_accuracy_counts_only_groups_reproduced_exactly() -> None:
    truth = ["a", "a", "b", "b", "c"]
    assert grouping_accuracy(truth, [1, 1, 2, 2, 3]) == 1.0
    assert grouping_accuracy(truth, [1, 1, 1, 1, 3]) == pytest.approx(1 / 5)  # a and b merged
    assert grouping_accuracy(truth, [1, 2, 3, 3, 4]) == pytest.approx(3 / 5)  # a split
    assert grouping_accuracy(truth, [7, 7, 8, 8, 8]) == pytest.approx(2 / 5)  # c merged into b


def test_the_drain3_bench_imports_the_measure_with_the_standard_library_only() -> None:
    """bench/drain3_accuracy.py runs from a virtualenv that has drain3 but none of logscope's
    dependencies: its import of logscope.patterns.accuracy must need nothing else."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); from logscope.patterns import accuracy;"
        " print(len(accuracy.LOGHUB_SYSTEMS))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(REPO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "16\n"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"loghub corpus not present at {CORPUS}")
@pytest.mark.slow
def test_grouping_accuracy_on_loghub_is_at_least_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    results = {system: system_accuracy(system) for system in LOGHUB_SYSTEMS}
    average = sum(accuracy for accuracy, _, _ in results.values()) / len(results)
    with capsys.disabled():
        print(f"\n{'system':<12} {'accuracy':>8} {'patterns':>8} {'truth':>6}")
        for system, (accuracy, found, true) in results.items():
            print(f"{system:<12} {accuracy:>8.3f} {found:>8} {true:>6}")
        print(f"{'average':<12} {average:>8.4f}")
    assert average >= BAR, f"average grouping accuracy {average:.4f} is below {BAR}"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"loghub corpus not present at {CORPUS}")
@pytest.mark.slow
def test_restarting_after_every_block_changes_nothing_on_loghub() -> None:
    """Every system's messages in random blocks, the miner rebuilt from its saved state after
    each: the same patterns for every message, and the same state, as one miner in one go."""
    rng = random.Random(18)
    for system in LOGHUB_SYSTEMS:
        messages = [row["Content"] for row in structured_rows(CORPUS, system)]
        whole = Miner()
        expected = [whole.root(pattern_id) for pattern_id in whole.assign(messages)]
        miner, found, position = Miner(), [], 0
        while position < len(messages):
            block = messages[position : position + rng.randrange(1, 300)]
            found += miner.assign(block)
            miner = Miner.load(
                (p.id, [" ".join(shape) for shape in p.shapes], p.merged_into)
                for p in miner.patterns.values()
            )
            position += len(block)
        assert [miner.root(pattern_id) for pattern_id in found] == expected, system
        assert miner.patterns == whole.patterns, system
