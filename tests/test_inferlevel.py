"""The SQL form of the level inference gives the Python form's level on any message."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from logscope.parsing.inferlevel import INFERRED_WORDS, infer_level, infer_level_sql

_WORDS = [word for _, words in INFERRED_WORDS for word in words]
_PIECES = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from([w.upper() for w in _WORDS] + [w.title() for w in _WORDS]),
    st.sampled_from([" ", "_", "-", ".", ":", "0", "x", "é", "\t", "  "]),
    st.text(max_size=6),
)
_MESSAGES = st.lists(_PIECES, max_size=8).map("".join)


def _sql_levels(connection: duckdb.DuckDBPyConnection, messages: list[str]) -> list[str | None]:
    """`infer_level_sql` over each message, in order."""
    rows = connection.execute(
        f"SELECT {infer_level_sql('m')} FROM unnest($1) WITH ORDINALITY AS t(m, n) ORDER BY n",
        [messages],
    ).fetchall()
    return [row[0] for row in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(_MESSAGES, min_size=1, max_size=40))
def test_sql_inference_equals_python_inference(messages: list[str]) -> None:
    """Whole words, case, neighbours and non-ASCII text: both forms agree, NULL for no level."""
    connection = duckdb.connect()
    assert _sql_levels(connection, messages) == [infer_level(m) for m in messages]


def test_known_messages_get_their_levels() -> None:
    """Most severe word wins; a word inside another word does not count."""
    messages = ["kernel panic, error", "disk FAILED", "Deprecated call", "errorless run", "all ok"]
    assert _sql_levels(duckdb.connect(), messages) == ["fatal", "error", "warning", None, None]
