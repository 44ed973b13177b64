"""Access lines' times read by DuckDB's strptime in a file scan (pipeline/in_place_cut.py,
`native_time_sql`): on any time of the fixed shape, the record is the one our parser makes."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logscope.parsing.registry import load_registry
from logscope.parsing.source_parser import SAMPLE_LINES, SourceParser
from logscope.pipeline.in_place import InPlaceQuery
from logscope.pipeline.in_place_cut import CutPlan
from logscope.record import LineBatch

_TWO = st.integers(0, 99).map("{:02d}".format)
_TIMES = st.builds(
    "{}/{}/{}:{}:{}:{} {}{}".format,
    st.one_of(_TWO, st.sampled_from(["01", "28", "29", "30", "31"])),
    st.sampled_from(["Jan", "Feb", "Mar", "Apr", "Nov", "Dec", "NOV", "nov", "fEB", "Foo", "Mai"]),
    st.one_of(
        st.integers(0, 9999).map("{:04d}".format), st.sampled_from(["0000", "0001", "1900", "2000", "2024"])
    ),
    st.one_of(_TWO, st.sampled_from(["00", "23", "24"])),
    st.one_of(_TWO, st.sampled_from(["00", "59", "60"])),
    st.one_of(_TWO, st.sampled_from(["00", "59", "60", "61"])),
    st.sampled_from("+-"),
    st.one_of(st.integers(0, 9999).map("{:04d}".format), st.sampled_from(["0000", "0130", "1400", "2359"])),
)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_TIMES, min_size=40, max_size=40))
def test_access_times_read_by_strptime_are_the_parsers(tmp_path: Path, times: list[str]) -> None:
    """Fast access lines' times go through DuckDB's strptime (in_place_cut.native_time_sql): on
    any time of the fixed shape, valid or not, the record is the one our parser makes."""
    plain = [
        f'10.0.0.1 - - [20/Nov/2026:10:00:{n % 60:02d} +0000] "GET / HTTP/1.1" 200 5 "-" "c"'
        for n in range(100)
    ]
    lines = [f'10.0.0.2 - - [{time}] "GET /t HTTP/1.1" 200 5 "-" "c"' for time in times]
    path = tmp_path / f"access-{abs(hash(tuple(times)))}.log"
    path.write_text("\n".join(plain + lines + plain) + "\n")
    query = InPlaceQuery([str(path)], load_registry(UTC), head_bytes=4096)
    con = query.connect()
    assert isinstance(query.files[0].plan, CutPlan) and query.files[0].plan.native_time
    rows = con.execute(
        "SELECT format, CASE WHEN ts = received_at THEN NULL ELSE epoch_us(ts) END FROM logs"
        f" ORDER BY id OFFSET {len(plain)} LIMIT {len(lines)}"
    ).fetchall()
    parser = SourceParser(load_registry(UTC))
    parser.parse_batch(LineBatch(str(path), plain[:SAMPLE_LINES], 0))
    expected = []
    for line in lines:
        name, parsed = parser.parse_line(line)
        expected.append((name, parsed[0] if parsed is not None else None))
    assert rows == expected
