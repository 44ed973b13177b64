"""Grouping accuracy as the logpai benchmark defines it (Zhu et al., ICSE-SEIP 2019)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence


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
