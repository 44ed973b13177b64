"""`logscope query SQL FILE…`: the files' rows equal what `ingest` stores, row for row, and the
user's SQL can read nothing else."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import duckdb
import pytest

from logscope.parsing.registry import load_registry
from logscope.parsing.source_parser import SAMPLE_LINES
from logscope.pipeline.in_place import InPlaceQuery, retry_file
from logscope.pipeline.in_place_cut import CutPlan

CORPUS = Path("/work/shared/corpus/loghub")
# Every column of `logs` but the receive time (`ts` too where a record has no time of its own),
# numbered within each source: ingest may interleave the records of several files.
ROWS = (
    "SELECT source, row_number() OVER (PARTITION BY source ORDER BY id) AS n,"
    " CASE WHEN ts = received_at THEN NULL ELSE ts END AS ts, host, format, level, message,"
    " fields::VARCHAR AS fields, raw FROM logs ORDER BY source, n"
)


def cli(*args: str, stdin: bytes | None = None, env_db: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run(
        [sys.executable, "-m", "logscope", *args], input=stdin, capture_output=True, env=env, check=False
    )


def ingested_rows(tmp_path: Path, *paths: Path) -> list[tuple]:
    db = tmp_path / "ingest.duckdb"
    done = cli("ingest", "--db", str(db), "--tz", "UTC", "--no-default-rules", *map(str, paths))
    assert done.returncode == 0, done.stderr.decode()
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(ROWS).fetchall()
    finally:
        con.close()


def in_place_rows(*paths: Path, head_bytes: int = 1 << 20) -> tuple[list[tuple], list[str]]:
    query = InPlaceQuery([str(path) for path in paths], load_registry(UTC), head_bytes=head_bytes)
    con = query.connect()
    try:
        return con.execute(ROWS).fetchall(), [file.how for file in query.files]
    finally:
        con.close()


SAMPLE_LOGS = Path(__file__).resolve().parent.parent / "sample_logs"


def sample_files(directory: Path) -> list[Path]:
    """One file per format: its samples' lines, repeated past the lines detection samples; and
    the real syslog and JSON lines of sample_logs/ (those formats are code, with no samples)."""
    directory.mkdir()
    written = []
    for name in ("syslog", "app.jsonl"):
        written.append(directory / name)
        written[-1].write_bytes((SAMPLE_LOGS / name).read_bytes())
    for parser in load_registry(UTC).ordered:
        definition = getattr(parser, "definition", parser)
        lines = [line for sample in getattr(definition, "samples", []) for line in sample.lines]
        if not lines:
            continue
        path = directory / f"{parser.name}.log"
        repeated = (lines * (200 // len(lines) + 1))[:200]
        path.write_text("\n".join(repeated) + "\n")
        written.append(path)
    return written


@pytest.mark.slow
def test_every_format_sample_gives_the_rows_ingest_stores(tmp_path: Path) -> None:
    files = sample_files(tmp_path / "samples")
    assert len(files) > 20
    expected = ingested_rows(tmp_path, tmp_path / "samples")
    got, how = in_place_rows(tmp_path / "samples", head_bytes=512)
    assert len(got) == len(expected)
    assert got == expected
    # The DuckDB scan (not only our parser) took part: regex formats are scanned, access lines
    # are cut, JSON lines have their SQL plan, a syslog file is scanned per format (the `syslog`
    # plan, for files that format is tried first on, has its own test below).
    assert sum(item.startswith("scanned") for item in how) >= 5, how
    for plan in ("(nginx_access)", "(json)", "(openssh, bsd_syslog)"):
        assert f"scanned by DuckDB {plan}" in how, (plan, how)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the Loghub corpus is not here")
@pytest.mark.slow
def test_loghub_corpus_gives_the_rows_ingest_stores(tmp_path: Path) -> None:
    """The files as they are (CRLF: our parser reads them) and with LF endings (DuckDB scans)."""
    raw = sorted(CORPUS.glob("*/*_2k.log"))
    lf_dir = tmp_path / "lf"
    lf_dir.mkdir()
    for path in raw:
        (lf_dir / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    for files in (raw, sorted(lf_dir.iterdir())):
        db_dir = tmp_path / f"db-{files[0].parent.name}"
        db_dir.mkdir()
        expected = ingested_rows(db_dir, *files)
        got, how = in_place_rows(*files, head_bytes=64 << 10)
        assert len(got) == len(expected) == 2000 * len(files)
        assert got == expected
    assert sum(item.startswith("scanned") for item in how) >= 3, how
    # Real syslog files: scanned by each format in turn (in_place_chain.py) or by one.
    assert "scanned by DuckDB (openssh, bsd_syslog)" in how, how
    assert "scanned by DuckDB (bsd_syslog)" in how, how


@pytest.mark.slow
def test_ids_and_rows_match_for_one_scanned_file(tmp_path: Path) -> None:
    lines = [
        f'10.0.0.{n % 7} - - [20/Nov/2026:10:{n % 60:02d}:00 +0000] "GET /x/{n} HTTP/1.1" {200 + n % 4 * 100}'
        f' {n} "-" "curl/8.5.0"'
        for n in range(3000)
    ]
    lines[2500] = "a line in no format"
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    query = (
        "SELECT id, CASE WHEN ts = received_at THEN NULL ELSE ts END, format, level, message,"
        " fields::VARCHAR, raw FROM logs ORDER BY id"
    )
    db = tmp_path / "i.duckdb"
    assert cli("ingest", "--db", str(db), "--no-default-rules", str(path)).returncode == 0
    con = duckdb.connect(str(db), read_only=True)
    expected = con.execute(query).fetchall()
    typed = con.execute("SELECT id, status, bytes FROM nginx_access ORDER BY id").fetchall()
    con.close()
    in_place = InPlaceQuery([str(path)], load_registry(UTC), head_bytes=4096)
    con = in_place.connect()
    assert in_place.files[0].how == "scanned by DuckDB (nginx_access)"
    assert con.execute(query).fetchall() == expected
    assert con.execute("SELECT id, status, bytes FROM nginx_access ORDER BY id").fetchall() == typed
    assert con.execute("SELECT format FROM logs WHERE id = 2501").fetchall() == [("raw",)]


@pytest.mark.slow
def test_cli_reads_globs_directories_gzip_and_stdin(tmp_path: Path) -> None:
    text = "".join(f"<13>Nov 20 10:00:{n % 60:02d} host app[1]: message {n}\n" for n in range(100))
    (tmp_path / "a.log").write_text(text)
    with gzip.open(tmp_path / "b.log.gz", "wt") as handle:
        handle.write(text)
    sql = "SELECT source, count(*) AS n FROM logs GROUP BY 1 ORDER BY 1"
    done = cli("query", "--csv", sql, str(tmp_path / "*.log*"))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines() == [
        "source,n",
        f"{tmp_path}/a.log,100",
        f"{tmp_path}/b.log.gz,100",
    ]
    done = cli("query", "--csv", "SELECT count(*) AS n FROM logs", str(tmp_path))
    assert done.stdout.decode().splitlines() == ["n", "200"]
    done = cli(
        "query", "--csv", "SELECT source, count(*) AS n FROM logs GROUP BY 1", "-", stdin=text.encode()
    )
    assert done.stdout.decode().splitlines() == ["source,n", "stdin,100"]


@pytest.mark.slow
def test_user_sql_reads_only_the_files_named(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("hello\n" * 10)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read\n")
    for sql in (
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM read_text('{secret}')",
        f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
        f"COPY (SELECT 1) TO '{path}' (USE_TMP_FILE false)",
        "SET enable_external_access = true",
        "INSTALL httpfs",
    ):
        done = cli("query", sql, str(path))
        assert done.returncode == 1, sql
        error = done.stderr.decode()
        assert error.startswith("logscope: error:") and error.count("\n") == 1, error
    assert path.read_text() == "hello\n" * 10
    assert not (tmp_path / "out.csv").exists()


def test_missing_file_is_one_line_error(tmp_path: Path) -> None:
    done = cli("query", "SELECT 1", str(tmp_path / "nope.log"))
    assert done.returncode == 1
    assert done.stderr.decode() == f"logscope: error: {tmp_path / 'nope.log'}: No such file or directory\n"


@pytest.mark.slow
def test_a_header_line_after_the_head_makes_our_parser_read_the_file(tmp_path: Path) -> None:
    """A W3C header deep in a scanned file: the query runs again with our parser reading it."""
    nginx = [
        f'10.0.0.{n % 9} - - [20/Nov/2026:10:00:{n % 60:02d} +0000] "GET /p/{n} HTTP/1.1" 200 {n} "-" "c/8"'
        for n in range(20_000)
    ]
    w3c = [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Fields: date time s-ip cs-method cs-uri-stem sc-status time-taken",
        "2026-11-20 10:00:01 10.0.0.1 GET /w3c 500 15",
    ]
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(nginx + w3c + nginx[:10]) + "\n")
    sql = "SELECT format, count(*) AS n, max(id) AS last FROM logs GROUP BY ALL ORDER BY ALL"
    db = tmp_path / "i.duckdb"
    assert cli("ingest", "--db", str(db), "--no-default-rules", str(path)).returncode == 0
    expected = cli("query", "--db", str(db), "--csv", sql)
    query = InPlaceQuery([str(path)], load_registry(UTC))
    con = query.connect(sql)
    assert query.files[0].how == "scanned by DuckDB (nginx_access)"
    with pytest.raises(duckdb.Error) as raised:
        con.execute(sql).fetchall()
    assert retry_file(raised.value) == 0
    done = cli("query", "--csv", sql, str(path))
    assert done.returncode == 0, done.stderr.decode()
    assert "w3c" in done.stdout.decode()
    assert done.stdout == expected.stdout


# JSON lines where the SQL plan must read each key as the parser does, or leave the line to it.
AWKWARD_JSON = [
    '{"time":"2026-11-20T10:00:00.123Z","level":"info","msg":"plain","n":1,"f":1.50,"o":{"a":[1,2]}}',
    '{"ts":1763632800,"level":30,"message":"bunyan number level","hostname":"h1"}',
    '{"ts":1763632800.25,"lvl":"WARN","msg":"float epoch"}',
    '{"ts":1763632800123,"severity":"Error","msg":"epoch ms"}',
    '{"timestamp":"1763632800","level":"debug","msg":"epoch string"}',
    '{"timestamp":"1763632800.5","level":"debug","msg":"epoch string float"}',
    '{"@timestamp":"2026-11-20 10:00:00+02:00","log.level":"warn","message":"ecs"}',
    '{"time":"2026-11-20T10:00:00","level":"info","msg":"no offset"}',
    '{"time":"2026-11-20T10:00:00.123456789Z","level":"info","msg":"nanoseconds"}',
    '{"time":"2026-02-30T10:00:00Z","level":"info","msg":"impossible date"}',
    '{"time":"Nov 20 10:00:00","level":"info","msg":"not iso"}',
    '{"time":null,"ts":1763632800,"level":"info","msg":"null time first"}',
    '{"time":true,"level":"info","msg":"bool time"}',
    '{"time":-5,"level":"info","msg":"negative epoch"}',
    '{"time":1e20,"level":"info","msg":"exponent"}',
    '{"level":"nope","severity":"error","msg":"unknown level first"}',
    '{"level":42,"msg":"unknown number level"}',
    '{"level":"  [ERROR] ","msg":"padded level"}',
    '{"msg":{"nested":true},"message":"second key is the string"}',
    '{"msg":"carriage\\r\\n","host":"","extra":"x"}',
    '{"msg":"escaped \\u00e9 text","level":"info"}',
    '{"msg":"dup","msg":"dup2"}',
    '{"msg":"trailing comma",}',
    '{"msg":"nan","v":NaN}',
    '{"msg":"big","v":123456789012345678901234}',
    '{"msg":"exponents","a":1e21,"b":1.5e200,"c":1e5,"d":1E-7,"e":2.5e-3}',
    '{"msg":"exponents in arrays","a":[1e21, 2E+3],"b": 3e4,"c":[ -1.5e17]}',
    '{"msg":"exponent-like strings","request_id":"c8e361705b81070a","v":"1e+5","w":"x:1e21"}',
    '{"msg":"unicode é ✓","path":"/a/b","q":"say \\"hi\\""}',
    '{"msg":"tab\\tin string","e":[],"z":{}}',
    "{}",
    ' {"msg":"leading space"}',
    "[1, 2, 3]",
    "not json at all",
    '{"msg": "spaces", "level" : "info" , "n" : 2 }',
    # The shape strptime reads (`tn` in json_plan.py), with dates and times it must refuse.
    '{"time":"2028-02-29T23:59:59.999Z","level":"info","msg":"leap day"}',
    '{"time":"2026-02-29T10:00:00.123Z","level":"info","msg":"no leap day"}',
    '{"time":"2026-11-20T24:00:00.000Z","level":"info","msg":"hour 24"}',
    '{"time":"2026-11-20T23:59:60.000Z","level":"info","msg":"leap second"}',
    '{"time":"0000-01-01T00:00:00.000Z","level":"info","msg":"year zero"}',
    '{"time":"1969-12-31T23:59:59.001Z","level":"info","msg":"before the epoch"}',
    # The usual keys (the plain lines'), one twice or in another order (`usual_keys`).
    '{"time":"2026-11-20T10:00:00.123Z","level":"info","msg":"a","status":200,"ms":1.0,"msg":"b"}',
    '{"level":"info","time":"2026-11-20T10:00:00.123Z","msg":"a","status":200,"ms":1.0}',
]


@pytest.mark.slow
def test_json_lines_are_scanned_and_give_the_rows_ingest_stores(tmp_path: Path) -> None:
    plain = [
        f'{{"time":"2026-11-20T10:{n % 60:02d}:00.{n % 1000:03d}Z","level":"{("info", "error")[n % 2]}",'
        f'"msg":"request {n}","status":{200 + n % 3},"ms":{n / 7:.3f}}}'
        for n in range(300)
    ]
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(plain + AWKWARD_JSON * 3 + plain[:50]) + "\n")
    expected = ingested_rows(tmp_path, path)
    got, how = in_place_rows(path, head_bytes=4096)
    assert how == ["scanned by DuckDB (json)"]
    assert len(got) == len(expected) == 350 + 3 * len(AWKWARD_JSON)
    for want, row in zip(expected, got, strict=True):
        assert row == want


def test_json_ids_that_read_like_exponents_are_scanned(tmp_path: Path) -> None:
    """Hex ids such as "c8e3…" hold a digit, an `e` and a digit: only numbers are checked for
    exponents, so such lines are read by the SQL plan, not sent to our parser one by one."""
    lines = [
        f'{{"time":"2026-11-20T10:00:{n % 60:02d}Z","msg":"m","request_id":"{n:04d}e{n:011d}","e":"9E+9"}}'
        for n in range(400)
    ]
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(lines) + "\n")
    query = InPlaceQuery([str(path)], load_registry(UTC), head_bytes=4096)
    con = query.connect()
    assert query.files[0].how == "scanned by DuckDB (json)"
    relation = query.files[0].relation
    # Only the first lines, which detection read with our parser, are not the plan's.
    not_ok = con.execute(f"SELECT count(*) FILTER (NOT ok), count(*) FROM ({relation})").fetchone()
    assert not_ok == (SAMPLE_LINES, 400)


@pytest.mark.slow
def test_json_lines_with_a_key_the_first_lines_did_not_use(tmp_path: Path) -> None:
    """The plan extracts the keys the head used; a later `ts`, `severity` or `host` is still read."""
    plain = [f'{{"time":"2026-11-20T10:00:{n % 60:02d}Z","msg":"m {n}","n":{n}}}' for n in range(300)]
    later = [
        '{"time":"2026-11-20T10:00:00Z","severity":"error","msg":"a level key"}',
        '{"ts":1763632800,"msg":"another time key","host":"h2"}',
        '{"time":"x","@timestamp":"2026-11-20T10:00:00Z","msg":"two time keys"}',
        '{"msg":"a value that reads \\"ts\\": like a key"}',
    ]
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(plain + later + plain[:10]) + "\n")
    expected = ingested_rows(tmp_path, path)
    got, how = in_place_rows(path, head_bytes=4096)
    assert how == ["scanned by DuckDB (json)"]
    assert got == expected


# Access lines around the strict pattern of the cut (parsing/vectorized/cuts.py): lines it matches
# whose time or numbers the typed checks refuse, and lines it does not match that the format reads.
AWKWARD_ACCESS = [
    '10.0.0.1 - - [31/Feb/2026:10:00:00 +0000] "GET /feb HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:24:00:00 +0000] "GET /hour HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Foo/2026:10:00:00 +0000] "GET /month HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +9999] "GET /offset HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [2/Nov/2026:10:00:00 +0000] "GET /one-digit-day HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /big HTTP/1.1" 200 1234567890123456789 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 999 - "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 000 0 "-" "c"',
    '10.0.0.1 - a[b [20/Nov/2026:10:00:00 +0000] "GET /bracket-user HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - "q" [20/Nov/2026:10:00:00 +0000] "GET /quoted-user HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1\t- - [20/Nov/2026:10:00:00 +0000] "GET /tab HTTP/1.1" 200 5 "-" "c"',
    'é - - [20/Nov/2026:10:00:00 +0000] "GET /unicode-client HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1  - - [20/Nov/2026:10:00:00 +0000] "GET /two-spaces HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /a"b HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /a b c" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "get /lower HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET  /double HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /tab\tin HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /é HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "" 400 0 "-" "-"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "-" 400 0 "" ""',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-" "agent \\"quoted\\" v1"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "ref\\\\" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "é ✓" "c" 0.003 "x" \\ y',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-" "c" ',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-" "c"x',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-" "c""',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-"  "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 -0130] "GET /x HTTP/1.1" 200 - "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000]  "GET /x HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00\x0b+0000] "GET /vt HTTP/1.1" 200 5 "-" "c"',
    # Around the valid time shape (fast lines pass the checks unread, in_place_cut.py `proves`).
    '10.0.0.1 - - [29/Feb/2024:10:00:00 +0000] "GET /leap HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [29/Feb/2023:10:00:00 +0000] "GET /not-leap HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [31/Apr/2026:10:00:00 +0000] "GET /apr HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [30/Apr/2026:23:59:59 -2359] "GET /edge HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [28/Feb/2026:00:00:00 +2359] "GET /edge HTTP/1.1" 200 5 "" "-"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +2400] "GET /offset HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/0999:10:00:00 +0000] "GET /year HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/0000:10:00:00 +0000] "GET /year0 HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:60 +0000] "GET /second HTTP/1.1" 200 5 "-" "c"',
    '10.0.0.1 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 600 123456789012345678 "-" "c"',
]


@pytest.mark.slow
def test_access_lines_around_the_cut_give_the_rows_ingest_stores(tmp_path: Path) -> None:
    plain = [
        f'10.0.0.{n % 7} - - [20/Nov/2026:10:{n % 60:02d}:00 +0000] "GET /x/{n} HTTP/1.1" {200 + n % 4 * 100}'
        f' {n} "-" "curl/8.5.0"'
        for n in range(300)
    ]
    path = tmp_path / "access.log"
    path.write_text("\n".join(plain + AWKWARD_ACCESS * 3 + plain[:50]) + "\n")
    expected = ingested_rows(tmp_path, path)
    got, how = in_place_rows(path, head_bytes=4096)
    assert how == ["scanned by DuckDB (nginx_access)"]
    assert len(got) == len(expected) == 350 + 3 * len(AWKWARD_ACCESS)
    for want, row in zip(expected, got, strict=True):
        assert row == want
    query = InPlaceQuery([str(path)], load_registry(UTC), head_bytes=4096)
    con = query.connect()
    assert isinstance(query.files[0].plan, CutPlan)  # the cut took part
    assert query.files[0].plan.proved  # and its fast lines skipped the checks
    typed = "SELECT id, status, bytes, method, path, protocol, extra FROM nginx_access ORDER BY id"
    got_typed = con.execute(typed).fetchall()
    con.close()
    db = tmp_path / "ingest.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    assert got_typed == con.execute(typed).fetchall()
    con.close()


# BSD syslog lines around the SQL plan (parsing/vectorized/syslog_plan.py): the usual shape with
# and without a priority, and lines it leaves to the parser.
AWKWARD_SYSLOG = [
    "<13>Feb 30 10:00:00 h a: impossible date",
    "<13>Feb 29 10:00:00 h a: leap day",
    "<13>Nov 20 24:00:00 h a: hour 24",
    "<13>Nov 20 10:00:60 h a: second 60",
    "<192>Nov 20 10:00:00 h a: priority too big",
    "<013>Nov 20 10:00:00 h a: zero-padded priority",
    "<13>Nov 20 10:00:00 h: a: host ending with a colon",
    "<13>Nov  20 10:00:00 h a: two spaces and two digits",
    "<13>Nov  5 10:00:00 h a: space-padded day",
    "<13>Nov 20 10:00:00.5 h a[1]:no space after the colon",
    "<13>Nov 20 10:00:00.1234567 h a: seven fraction digits",
    "<13>Nov 20 10:00:00  h a: two spaces after the time",
    "<13>Nov 20 10:00:00 h a[12345678901234567]: long pid",
    "<13>Nov 20 10:00:00 h a[0x1f]: procid",
    '<13>Nov 20 10:00:00 h a"b\\c[1]: quote and backslash in the app',
    "<13>Nov 20 10:00:00 h a b: no tag",
    "<13>Nov 20 10:00:00 h a[1: unclosed pid",
    "<13>Nov 20 10:00:00 hé a: unicode host",
    "<13>Nov 20 10:00:00 h a: unicode message é ✓ and an ERROR",
    "<13>Nov 20 10:00:00 h\ta: tab",
    "<13>1 2026-11-20T10:00:00Z h a 1 - - an RFC 5424 line",
    "<13>Nov 20 10:00:00 h a:",
    "<13>nov 20 10:00:00 h a: lower-case month",
    "<13>Nov 20 10:00:00 h a: Segfault and failed",
    "Nov 20 10:00:00 h a: no priority, an error",
    "Nov 20 10:00:00 h sshd[1]: no priority, sshd",
    "Nov 20 10:00:00 h a: no priority, quiet",
]


@pytest.mark.slow
def test_bsd_syslog_lines_are_scanned_and_give_the_rows_ingest_stores(tmp_path: Path) -> None:
    plain = [
        f"<{(13, 0, 191, 34)[n % 4]}>Nov {n % 28 + 1:2d} 10:{n % 60:02d}:00 host{n % 3}"
        f" {('cron', 'su[007]', 'app[x1]')[n % 3]}: message {n} {('error here', 'ok', 'WARN x', '')[n % 4]}"
        for n in range(300)
    ]
    path = tmp_path / "messages.log"
    path.write_text("\n".join(plain + AWKWARD_SYSLOG * 3 + plain[:50]) + "\n")
    expected = ingested_rows(tmp_path, path)
    got, how = in_place_rows(path, head_bytes=4096)
    assert how == ["scanned by DuckDB (syslog)"]
    assert len(got) == len(expected) == 350 + 3 * len(AWKWARD_SYSLOG)
    for want, row in zip(expected, got, strict=True):
        assert row == want


@pytest.mark.slow
def test_a_syslog_file_of_several_formats_is_scanned_by_each_in_turn(tmp_path: Path) -> None:
    """postfix, then openssh, then bsd_syslog, as our parser tries them (in_place_chain.py)."""
    apps = ("postfix/smtpd[37149]", "sshd[61688]", "kernel", "CRON[41103]", "systemd[1]", "nginx")
    texts = (
        "connect from unknown[192.0.2.146]",
        "Failed password for invalid user admin from 203.0.113.79 port 5918 ssh2",
        "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
        "4F1A2B3C4D: to=<a@example.com>, relay=x, delay=1, status=sent (250 ok)",
        "warning: hostname does not resolve",
        "Out of memory: killed process 1",
    )
    plain = [
        f"Nov {n % 28 + 1:2d} 10:{n % 60:02d}:00 host-{n % 3} {apps[n % 6]}: {texts[n // 6 % 6]}"
        for n in range(400)
    ]
    awkward = [
        "Nov 20 10:00:00 h postfix/smtpd[x]: not a pid",
        "Nov 20 10:00:00 h sshd(pam_unix)[12]: sshd with a sender",
        "Nov 20 10:00:00 h sshd[1]: é unicode",
        "Nov 20 10:00:00 h postfix/smtpd[1]: é unicode",
        "Nov 31 10:00:00 h sshd[1]: impossible date",
        # Around the valid time shape of the cuts' heads (a fast line's checks are not read).
        "Feb 29 10:00:00 h sshd[1]: leap day",
        "Feb 29 10:00:00 h kernel: leap day",
        "Feb 30 10:00:00 h kernel: impossible date",
        "Feb 28 23:59:59 h kernel: last day",
        "Apr 31 10:00:00 h sshd[1]: impossible date",
        "Dec 31 23:59:59 h sshd[1]: last day",
        "Nov 20 24:00:00 h kernel: hour 24",
        "Nov 20 10:00:60 h kernel: second 60",
        "Nov 00 10:00:00 h kernel: day 0",
        "Nov 20 10:00:00 h kernel[123456789012345678]: long pid",
        "Nov 20 10:00:00 h   spaces: after the host",
        "Nov 20 10:00:00 h Microsoft Word[12] (com.x): macOS",
        "Nov 20 10:00:00 h",
        "not a syslog line",
        "",
    ]
    path = tmp_path / "messages"
    path.write_text("\n".join(plain + awkward * 3 + plain[:50]) + "\n")
    expected = ingested_rows(tmp_path, path)
    got, how = in_place_rows(path, head_bytes=4096)
    assert how == ["scanned by DuckDB (postfix, openssh, cron, bsd_syslog)"]  # cron: its PAM lines
    assert len(got) == len(expected) == 450 + 3 * len(awkward)
    for want, row in zip(expected, got, strict=True):
        assert row == want
    # Each format's typed view: the plans' values on their own lines, the parser's elsewhere.
    views = [
        "SELECT id, app, pid, queue_id, outcome FROM postfix ORDER BY id",
        "SELECT id, app, pid FROM openssh ORDER BY id",
        "SELECT id, app, pid, user, action, pam FROM cron ORDER BY id",
        "SELECT id, app, pid, address FROM bsd_syslog ORDER BY id",
    ]
    con = duckdb.connect(str(tmp_path / "ingest.duckdb"), read_only=True)
    stored = [con.execute(view).fetchall() for view in views]
    con.close()
    query = InPlaceQuery([str(path)], load_registry(UTC), head_bytes=4096)
    con = query.connect()
    assert [con.execute(view).fetchall() for view in views] == stored
    assert all(stored), [len(rows) for rows in stored]
