"""What a query over files in place asked pyarrow's RE2 about a pattern (its groups' names, whether
it matches empty text, whether RE2 runs it) is now asked without pyarrow: the answers equal
pyarrow's for every pattern of every bundled format's plan."""

from __future__ import annotations

from datetime import UTC

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from logscope.parsing.registry import builtin_registry
from logscope.parsing.vectorized.plans import RegexPlan, plan_for
from logscope.parsing.vectorized.re2 import re2_accepts, re2_matches_empty
from logscope.pipeline.in_place_scan import _struct_names


def plan_patterns() -> list[str]:
    patterns = []
    for parser in builtin_registry(UTC).ordered:
        plan = plan_for(parser, UTC)
        if isinstance(plan, RegexPlan):
            patterns += [*plan.patterns, *(g for g in plan.guards if g), *(t.regex for t in plan.time_plans)]
    return sorted(set(patterns))


def test_group_names_and_empty_matches_equal_pyarrow_s() -> None:
    patterns = plan_patterns()
    assert len(patterns) > 60
    empty = pa.array([""], pa.string())
    for pattern in patterns:
        assert re2_matches_empty(pattern) == pc.match_substring_regex(empty, pattern)[0].as_py(), pattern
        kind = pc.extract_regex(empty, pattern).type
        assert _struct_names(pattern) == [kind.field(i).name for i in range(kind.num_fields)], pattern


@pytest.mark.parametrize(
    ("pattern", "runs"),
    [("^(?:a+)", True), ("^(?:a{1001})", False), ("^(?:(?<=a)b)", False), ("^(?:(?P<x>a)\\1)", False)],
)
def test_re2_accepts_what_re2_runs(pattern: str, runs: bool) -> None:
    assert re2_accepts(pattern) is runs
