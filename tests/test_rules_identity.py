"""The rule engine gives, byte for byte, the alerts it gave before its kinds became classes and
its shortcuts moved behind alerting/counting/ (main at 3d02ec3): every column of every alert of
the Loghub corpus ingested with the bundled packs and rules of every counting kind
(bench/alert_identity.py; its `record`/`compare` also cover the rules test suite and the bench
files, too slow for a test). Where alerts change on purpose, record it again:
`python bench/alert_identity.py golden`.
"""

from __future__ import annotations

import gzip
import sys

import pytest
from conftest import CORPUS, REPO

sys.path.insert(0, str(REPO / "bench"))
import alert_identity  # bench/alert_identity.py

RECORDED = REPO / "tests" / "data" / "rules_identity" / "corpus_3d02ec3.jsonl.gz"


@pytest.mark.slow  # (minutes on a loaded machine)
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the Loghub corpus is not at {CORPUS}")
def test_the_corpus_gives_the_alerts_recorded_before_the_rule_engine_was_restructured() -> None:
    alert_identity.CORPUS = CORPUS  # (wherever this checkout finds it)
    got = alert_identity.alert_lines(REPO, ("corpus",))
    expected = gzip.decompress(RECORDED.read_bytes()).decode().splitlines()
    assert len(got) == len(expected) == 2039
    assert got == expected
