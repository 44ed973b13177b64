"""Grouping accuracy as the logpai benchmark defines it (Zhu et al., ICSE-SEIP 2019), and the
Loghub 2k samples it is measured on (tests/test_patterns_accuracy.py, bench/drain3_accuracy.py).
Standard library only (as are logscope/__init__.py and patterns/__init__.py): the drain3 bench
imports it without logscope's dependencies installed."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Hashable, Sequence
from pathlib import Path

# The 16 systems of the Loghub 2k samples, each a folder of the corpus.
LOGHUB_SYSTEMS = (
    "Android",
    "Apache",
    "BGL",
    "HDFS",
    "HPC",
    "Hadoop",
    "HealthApp",
    "Linux",
    "Mac",
    "OpenSSH",
    "OpenStack",
    "Proxifier",
    "Spark",
    "Thunderbird",
    "Windows",
    "Zookeeper",
)


def structured_rows(corpus: Path, system: str) -> list[dict[str, str]]:
    """A system's labelled lines (`Content`, `EventTemplate`, ...), in the order of its raw log."""
    with open(corpus / system / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """The share of messages whose true group is found exactly: a predicted group with the same
    messages, no more and no fewer."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels for {len(predicted)} predicted ones")
    true_groups: dict[Hashable, set[int]] = defaultdict(set)
    predicted_groups: dict[Hashable, set[int]] = defaultdict(set)
    for index, (true_label, predicted_label) in enumerate(zip(truth, predicted, strict=True)):
        true_groups[true_label].add(index)
        predicted_groups[predicted_label].add(index)
    correct = sum(
        len(members)
        for members in true_groups.values()
        if predicted_groups[predicted[next(iter(members))]] == members
    )
    return correct / len(truth) if truth else 1.0
