"""The bulk-import fast path stores exactly what the streaming path stores.

"Identical" means: the same number of rows, and row by row in id order the same id, ts, source,
host, format, level, message and raw, and `fields` equal as JSON values (key order and number
spelling aside). Only `received_at` differs (the time each path read the line), and with it the
`ts` of records whose line has no time (ts is then the receive time): compared as "no time".
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

from logscope.parsing.loader import builtin_files, definitions_in
from logscope.parsing.registry import builtin_registry
from logscope.parsing.vectorized.plans import plan_for
from logscope.pipeline.bulk import BulkImporter
from logscope.pipeline.streaming import Pipeline
from logscope.sources.readers import FileReader
from logscope.store.database import open_for_writing
from logscope.store.writer import LogWriter

CORPUS = REPO.parent / "shared" / "corpus" / "loghub"
DEFINITIONS = definitions_in(builtin_files())
# A record without a time of its own has ts = received_at: compared as NULL.
COLUMNS = (
    "id, CASE WHEN ts = received_at THEN NULL ELSE ts END, source, host, format, level, message,"
    " fields::VARCHAR, raw"
)


def _rows(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(f"SELECT {COLUMNS} FROM logs ORDER BY id").fetchall()
    finally:
        con.close()
    return [(*row[:7], json.loads(row[7]) if row[7] else None, row[8]) for row in rows]


def _streaming(path: Path, db: Path, forced: str | None) -> list[tuple]:
    registry = builtin_registry(UTC)
    con = open_for_writing(str(db))
    pipeline = Pipeline(LogWriter(con), registry, registry.get(forced) if forced else None)
    pipeline.add_source(FileReader(str(path)))
    pipeline.run()
    con.close()
    return _rows(db)


def _bulk(path: Path, db: Path, forced: str | None, block_bytes: int = 1 << 20):
    registry = builtin_registry(UTC)
    con = open_for_writing(str(db))
    importer = BulkImporter(LogWriter(con), registry, registry.get(forced) if forced else None)
    result = importer.import_file(str(path), block_bytes=block_bytes)
    con.close()
    return _rows(db), result


def assert_identical(path: Path, tmp_path: Path, forced: str | None = None, block_bytes: int = 1 << 20):
    """Import `path` both ways and compare; returns the bulk result for further checks."""
    expected = _streaming(path, tmp_path / f"{path.name}-stream.duckdb", forced)
    got, result = _bulk(path, tmp_path / f"{path.name}-bulk.duckdb", forced, block_bytes)
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        assert have == want, f"{path.name}: row {want[0]} differs"
    return result


def _sample_lines(definition) -> list[str]:
    return [line for sample in definition.samples for line in sample.lines]


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
@pytest.mark.slow
def test_every_builtin_format_sample_forced(definition, tmp_path: Path) -> None:
    path = tmp_path / f"{definition.name}.log"
    path.write_text("\n".join(_sample_lines(definition) * 3) + "\n")
    result = assert_identical(path, tmp_path, forced=definition.name)
    plan = plan_for(builtin_registry(UTC).get(definition.name), UTC)
    if not isinstance(plan, str):
        assert result.plan is not None and result.plan.startswith(definition.name)


def test_all_samples_together_detected(tmp_path: Path) -> None:
    """Detection, then every other format's lines falling back to the streaming parser."""
    lines = [line for definition in DEFINITIONS for line in _sample_lines(definition)]
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(lines * 4) + "\n")
    assert_identical(path, tmp_path)


def _nginx_line(index: int, status: int = 200, agent: str = "curl/8.5.0") -> str:
    return (
        f"10.0.0.{index % 250} - - [26/Nov/2026:02:{index // 60 % 60:02d}:{index % 60:02d} +0000] "
        f'"GET /item/{index} HTTP/1.1" {status} {index * 7} "-" "{agent}"'
    )


def test_awkward_lines_inside_a_planned_file(tmp_path: Path) -> None:
    """Unicode spaces and digits, empty groups, bad times, a Java stack trace, raw lines, CRLF."""
    lines = [_nginx_line(i) for i in range(200)]
    lines[80] = _nginx_line(80, agent="") + " trailing extra"
    lines[81] = _nginx_line(81).replace("curl", "curl\u00a0nbsp")
    lines[82] = _nginx_line(82).replace("[26/Nov", "[\u0662\u0666/Nov")
    lines[83] = _nginx_line(83).replace("26/Nov/2026:02", "31/Feb/2026:02")
    lines[84] = _nginx_line(84).replace(" 200 ", " 200 ") + " "
    lines[85] = "2024-01-02 03:04:05,678 ERROR [main] com.example.App: boom"
    lines[86] = "java.lang.IllegalStateException: broken"
    lines[87] = "\tat com.example.App.main(App.java:10)"
    lines[88] = ""
    lines[89] = "just some text"
    lines[90] = _nginx_line(90).replace("+0000", "+05:30")
    lines[91] = _nginx_line(91) + "\r"
    lines[92] = _nginx_line(92).replace("GET", "get")
    path = tmp_path / "awkward.log"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"bad \xff\xfe utf8 and a \x00 NUL\nno newline")
    result = assert_identical(path, tmp_path)
    assert result.plan is not None and result.plan.startswith("nginx_access")
    assert result.fast_records >= 120  # 64 sampled lines and the awkward ones went through Python


@pytest.mark.slow
def test_held_records_across_small_blocks(tmp_path: Path) -> None:
    """Blocks of 4 KB: multiline records and fallback runs cross block boundaries."""
    lines = []
    for i in range(400):
        lines.append(_nginx_line(i, status=500 + i % 5))
        if i % 37 == 0:
            lines += ["2024-01-02 03:04:05,678 ERROR [main] com.example.App: boom", "\tat a.b(C.java:1)"]
    path = tmp_path / "blocks.log"
    path.write_text("\n".join(lines) + "\n")
    assert_identical(path, tmp_path, block_bytes=4096)


@pytest.mark.slow
def test_gzip_and_capped_lines(tmp_path: Path) -> None:
    lines = [_nginx_line(i) for i in range(120)]
    lines[100] = _nginx_line(100, agent="x" * (1024 * 1024 + 10))
    path = tmp_path / "capped.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert_identical(path, tmp_path)


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.glob("*/*_2k.log"))


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"loghub corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p.parent.name)
@pytest.mark.slow
def test_loghub_corpus(path: Path, tmp_path: Path) -> None:
    assert_identical(path, tmp_path)


def _json_line(index: int) -> str:
    level = ("info", "warn", 40, "ERROR", "nonsense")[index % 5]
    when = ("2026-11-26T03:04:05.123Z", 1764126245.5, "2026-11-26 03:04:05", "1764126245123", "soon")
    return json.dumps(
        {
            "time": when[index % 5],
            "level": level,
            "msg": f"request {index} done\r\n" if index % 7 == 0 else f"request {index} done",
            "host": "" if index % 11 == 0 else f"web-{index % 3}",
            "nested": {"depth": [index, {"ok": index % 2 == 0}]},
            "big": 2**70 if index % 13 == 0 else index,
        }
    )


def test_json_lines_parsed_per_line_in_the_reader(tmp_path: Path) -> None:
    """JSON lines have no vectorized plan: the per-line plan (parsing/vectorized/per_line.py) reads them
    with the JSON parser itself; lines it declines go back to the streaming parser in order."""
    lines = [_json_line(i) for i in range(3000)]
    lines[100] = '{"time": "2026-11-26T03:04:05Z", "msg": "cut off'  # malformed
    lines[101] = "[1, 2, 3]"  # JSON, but not an object
    lines[102] = '   {"msg": "leading spaces", "level": "debug"}'
    lines[103] = 'level=error msg="a logfmt line among JSON" ts=2026-11-26T03:04:05Z'
    lines[104] = "{}"
    lines[105] = '{"log": "docker json-file\\n", "stream": "stderr", "time": "2026-11-26T03:04:05.1Z"}'
    lines[106] = "plain text"
    _assert_planned_per_line(tmp_path / "app.jsonl", lines, "json", declined=5)


def test_logfmt_parsed_per_line_in_the_reader(tmp_path: Path) -> None:
    """logfmt, with quoted and empty values and a JSON line among them."""
    extra = ' retry="" note="a \\"quoted\\" word"'
    lines = [
        f"ts=2026-11-26T03:{i // 60 % 60:02d}:{i % 60:02d}Z level={('info', 'warn', 'err')[i % 3]}"
        f' msg="job {i} done" duration={i / 7:.3f}s{"" if i % 4 else extra}'
        for i in range(2000)
    ]
    lines[500] = '{"msg": "json among logfmt"}'
    _assert_planned_per_line(tmp_path / "app.logfmt", lines, "logfmt", declined=1)


def _assert_planned_per_line(path: Path, lines: list[str], plan: str, declined: int) -> None:
    """Identical both ways in 32 KB blocks, the per-line plan reading all but the first 64 lines
    (sampled by the streaming parser) and the `declined` ones."""
    path.write_text("\n".join(lines) + "\n")
    result = assert_identical(path, path.parent, block_bytes=32 * 1024)
    assert result.plan is not None and result.plan.startswith(plan)
    assert result.fast_records >= len(lines) - 64 - declined
