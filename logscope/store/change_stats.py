"""Whether an error rate changed: a two-proportion z-test (the standard library's `NormalDist`)
that says nothing on small counts, and the share shift of a field's values (docs/compare.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

MIN_RECORDS = 30  # on each side
MIN_ERRORS = 10  # on both sides together; fewer cannot tell a doubling from chance
ALPHA = 0.001  # a change is called only below this p-value (a person checks every call)
MIN_FACTOR = 1.25  # ... and only when the rate moved at least this much either way

HIGHER = "higher"
LOWER = "lower"
NO_CHANGE = "no change"
TOO_FEW = "too few"


@dataclass(frozen=True)
class RateJudgement:
    """`verdict` is HIGHER, LOWER, NO_CHANGE or TOO_FEW; `ratio` after/before (None when the
    rate before is 0), `p_value` of the two-sided test (None when too few to test)."""

    verdict: str
    ratio: float | None
    p_value: float | None


def judge_rates(
    errors_before: int, records_before: int, errors_after: int, records_after: int, factor: float = MIN_FACTOR
) -> RateJudgement:
    """Compare errors/records before and after."""
    rate_before = errors_before / records_before if records_before else 0.0
    rate_after = errors_after / records_after if records_after else 0.0
    ratio = rate_after / rate_before if rate_before else None
    if min(records_before, records_after) < MIN_RECORDS or errors_before + errors_after < MIN_ERRORS:
        return RateJudgement(TOO_FEW, ratio, None)
    p_value = two_proportion_p(errors_before, records_before, errors_after, records_after)
    moved = rate_after >= rate_before * factor or rate_after * factor <= rate_before
    if p_value < ALPHA and moved:
        return RateJudgement(HIGHER if rate_after > rate_before else LOWER, ratio, p_value)
    return RateJudgement(NO_CHANGE, ratio, p_value)


def two_proportion_p(errors_a: int, records_a: int, errors_b: int, records_b: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test that both shares are equal."""
    pooled = (errors_a + errors_b) / (records_a + records_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / records_a + 1 / records_b))
    if spread == 0:
        return 1.0
    z = (errors_b / records_b - errors_a / records_a) / spread
    return 2 * (1 - NormalDist().cdf(abs(z)))


def shift_of(counts: dict[str, tuple[int, int]], total_before: int, total_after: int) -> tuple[float, str]:
    """How far a field's value shares moved between two sets of records (total variation distance,
    0 the same, 1 disjoint) and the value whose share grew most."""
    distance = 0.0
    grown, growth = "", -math.inf
    for value, (before, after) in counts.items():
        change = after / total_after - before / total_before
        distance += abs(change)
        if change > growth:
            grown, growth = value, change
    return distance / 2, grown
