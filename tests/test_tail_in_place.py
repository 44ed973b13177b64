"""A filter over a file `tail` is still importing: the stored part from the store, the rest read
in place (pipeline/catch_up.py, tui/in_place_rows.py). At every point of the import the view's
rows are the ones the finished import gives, each once: no row twice at the seam, none missing.

The import is stood for by copying the finished import's records into the store, id range by id
range, as the bulk import commits them (contiguous ids, in file order)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from test_query_files import cli

from logscope.pipeline.catch_up import CatchUpFiles, Closed, TooManyRows, fresh_import
from logscope.store.database import open_for_writing
from logscope.tui.filters import FilterState, TextMatch
from logscope.tui.in_place_rows import InPlaceRows
from logscope.tui.log_reader import LogReader

LINES = 12_000  # past the in-place engine's first block (1 MB): the file is scanned by DuckDB
COLUMNS = "id, epoch_us(ts), source, host, format, level, message, fields::VARCHAR, raw"


def nginx_file(path: Path) -> Path:
    lines = [
        f"10.0.{n % 250}.{n % 7} - - [20/Nov/2026:10:{n // 600 % 60:02d}:{n // 10 % 60:02d} +0000]"
        f' "GET /item/{n} HTTP/1.1" {(200, 404, 503, 200)[n % 4]} {n} "-" "curl/8.5.0"'
        for n in range(LINES)
    ]
    lines[5] = "a line in no format, near the start"
    lines[-5] = "a line in no format, near the end"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The file, and a database holding its finished import."""
    directory = tmp_path_factory.mktemp("seam")
    path = nginx_file(directory / "access.log")
    done = cli(
        "ingest", "--db", str(directory / "full.duckdb"), "--tz", "UTC", "--no-default-rules", str(path)
    )
    assert done.returncode == 0, done.stderr.decode()
    return path, directory / "full.duckdb"


def store_up_to(full: Path, store: Path, last_id: int) -> None:
    """Commit the finished import's records up to `last_id` into `store` (as the import would)."""
    con = duckdb.connect(str(store))
    try:
        con.execute(f"ATTACH '{full}' AS finished (READ_ONLY)")
        stored = con.execute("SELECT coalesce(max(id), 0) FROM logs").fetchone()[0]
        con.execute(
            "INSERT INTO logs SELECT * FROM finished.logs WHERE id > ? AND id <= ?", [stored, last_id]
        )
    finally:
        con.close()


def expected(full: Path, where: str, params: list) -> list[tuple]:
    con = duckdb.connect(str(full), read_only=True)
    try:
        return con.execute(f"SELECT {COLUMNS} FROM logs WHERE {where} ORDER BY ts, id", params).fetchall()
    finally:
        con.close()


def shown(reader: LogReader, state: FilterState) -> list[tuple]:
    """Every row the view shows for `state`, with every column, in its order: the ids of its pages,
    the columns from the `logs` it reads (the store's table and the rows held from the file)."""
    total = reader.count(state, 0, 10**9)
    ids = [row.id for row in reader.page(state, 0, total + 10, 10**9, total)]
    where, params = state.where(None)
    rows = reader.cursor.execute(
        f"SELECT {COLUMNS} FROM {reader._logs(state)} WHERE {where} ORDER BY ts, id", params
    ).fetchall()
    assert [row[0] for row in rows] == ids
    return rows


def normal(rows: list[tuple]) -> list[tuple]:
    """Fields as decoded JSON, so both sides compare as values; no time for a line without one
    (its time is when it is read: the import reads it later than the file is read in place)."""
    import orjson

    return [
        (
            row[0],
            row[1] if row[4] != "raw" else None,
            *row[2:7],
            orjson.loads(row[7]) if row[7] else None,
            row[8],
        )
        for row in rows
    ]


FILTERS = [
    FilterState(predicate="TRY_CAST(json_extract_string(fields, '$.\"status\"') AS BIGINT) = 503"),
    FilterState(text=TextMatch("in no format", False)),
    FilterState(text=TextMatch(r"/item/1\d*5 ", True), hidden_levels=frozenset({"error"})),
    # `format` is not a column of the format views: the whole filter over the in-place `logs`.
    FilterState(predicate="format = 'raw' OR level = 'error'"),
]


@pytest.mark.slow
@pytest.mark.parametrize("state", FILTERS, ids=["typed field", "text", "regex and level toggle", "over logs"])
def test_the_view_holds_each_record_once_as_the_import_passes(
    imported: tuple[Path, Path], tmp_path: Path, state: FilterState
) -> None:
    path, full = imported
    where, params = state.where(None)
    want = normal(expected(full, where, params))
    assert len(want) >= 2
    store = tmp_path / "tail.duckdb"
    con = open_for_writing(str(store))  # the store's tables, empty
    catch_up = fresh_import(con, [str(path)])
    con.close()
    assert catch_up is not None and catch_up.base_id == 0
    rows = InPlaceRows(catch_up, *_formats())
    held_state = state.with_changes(in_place=rows)
    try:
        # The filter runs while 3,001 of 12,000 records are stored: the rest is held from the file.
        with stored_up_to(imported[1], store, 3001) as reader:
            rows.load(reader, held_state)
            assert rows.error is None and rows.table is not None
            assert min(rows.table.column("id").to_pylist()) > 3001
            assert "scanned by DuckDB" in catch_up.how
            assert normal(shown(reader, held_state)) == want
        # The import moves on past the seam (a block ends mid-way, then at the last held id, then
        # at the end): the same rows, each once.
        for last_id in (3002, 7777, rows.last_id, LINES):
            with stored_up_to(imported[1], store, last_id) as reader:
                assert normal(shown(reader, held_state)) == want, last_id
        rows.release_if_stored(LINES)
        assert rows.table is None
        with stored_up_to(imported[1], store, LINES) as reader:
            assert normal(shown(reader, held_state)) == want
    finally:
        catch_up.close()


@contextlib.contextmanager
def stored_up_to(full: Path, store: Path, last_id: int) -> Iterator[LogReader]:
    """A reader of `store` once it holds the finished import's records up to `last_id`."""
    store_up_to(full, store, last_id)
    con = open_for_writing(str(store))
    reader = LogReader(con)
    try:
        yield reader
    finally:
        reader.close()
        con.close()


def _formats():
    from datetime import UTC

    from logscope.parsing.registry import load_registry

    return load_registry(UTC), None


def test_sql_over_the_whole_file_and_a_bound_on_held_rows(imported: tuple[Path, Path]) -> None:
    path, full = imported
    catch_up = CatchUpFiles([str(path)], 0)
    try:
        registry, forced = _formats()
        columns, rows, more = catch_up.run_sql(
            registry, forced, "SELECT status, count(*) FROM nginx_access GROUP BY 1 ORDER BY 1", 10
        )
        assert columns == ["status", "count_star()"] and not more
        assert rows == expected_statuses(full)
        with pytest.raises(TooManyRows):
            catch_up.rows_after(registry, forced, 0, "true", [], limit=1000)
        with pytest.raises(duckdb.Error):  # the user's SQL reads no other file
            catch_up.run_sql(registry, forced, "SELECT * FROM read_csv('/etc/passwd')", 10)
    finally:
        catch_up.close()


def expected_statuses(full: Path) -> list[tuple]:
    con = duckdb.connect(str(full), read_only=True)
    try:
        return con.execute(
            "SELECT (fields->>'status')::BIGINT AS s, count(*) FROM logs WHERE format = 'nginx_access'"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


def test_no_in_place_reading_for_a_file_an_earlier_run_stored_a_part_of(tmp_path: Path) -> None:
    path = nginx_file(tmp_path / "access.log")
    store = tmp_path / "tail.duckdb"
    con = open_for_writing(str(store))
    try:
        found = Path(path).stat()
        con.execute(
            "INSERT INTO checkpoints VALUES ('k', ?, ?, 'f', 100, now())", [found.st_dev, found.st_ino]
        )
        assert fresh_import(con, [str(path)]) is None
        con.execute("DELETE FROM checkpoints")
        assert fresh_import(con, [str(path), str(tmp_path / "missing.log")]).paths == [str(path)]
    finally:
        con.close()


def test_closing_stops_a_query_under_way(imported: tuple[Path, Path]) -> None:
    """Quitting tail while a filter is read in place does not wait for the scan to end."""
    import threading
    import time

    path, _ = imported
    catch_up = CatchUpFiles([str(path)], 0)
    registry, forced = _formats()
    catch_up.rows_after(registry, forced, 0, "false", [])  # the connection, made
    failed: list[BaseException] = []

    def slow_query() -> None:
        try:  # a cross join of the file with itself: minutes, were it not stopped
            catch_up.run_sql(registry, forced, "SELECT count(*) FROM logs a, logs b WHERE a.raw < b.raw", 1)
        except (duckdb.Error, Closed) as exc:
            failed.append(exc)

    worker = threading.Thread(target=slow_query)
    worker.start()
    started = time.monotonic()
    catch_up.close()
    worker.join(30)
    assert not worker.is_alive() and time.monotonic() - started < 10
    assert failed  # interrupted, or refused if it had not started


@pytest.mark.slow
def test_after_records_stored_before_the_file_the_seam_holds_and_id_filters_keep_to_the_store(
    imported: tuple[Path, Path], tmp_path: Path
) -> None:
    """A database holding 100 records of another source before tail imports the file: the file's
    records get ids from 101, and so do the rows held from it."""
    path, full = imported
    store = tmp_path / "tail.duckdb"
    open_for_writing(str(store)).close()  # the store's tables
    con = duckdb.connect(str(store))
    con.execute(f"ATTACH '{full}' AS finished (READ_ONLY)")
    con.execute(
        "INSERT INTO logs SELECT * REPLACE ('other.log' AS source) FROM finished.logs WHERE id <= 100"
    )
    con.close()
    con = open_for_writing(str(store))
    catch_up = fresh_import(con, [str(path)])
    con.close()
    assert catch_up is not None and catch_up.base_id == 100
    state = FilterState(predicate="TRY_CAST(json_extract_string(fields, '$.\"status\"') AS BIGINT) = 404")
    rows = InPlaceRows(catch_up, *_formats())
    held = state.with_changes(in_place=rows)

    def stored_up_to(last_id: int) -> None:
        con = duckdb.connect(str(store))
        try:
            con.execute(f"ATTACH '{full}' AS finished (READ_ONLY)")
            stored = con.execute("SELECT max(id) FROM logs").fetchone()[0]
            con.execute(
                "INSERT INTO logs SELECT * REPLACE (id + 100 AS id) FROM finished.logs"
                " WHERE id > ? AND id <= ?",
                [stored - 100, last_id - 100],
            )
        finally:
            con.close()

    def view(state: FilterState) -> list[tuple]:
        con = open_for_writing(str(store))
        reader = LogReader(con)
        try:
            if state.in_place is not None and not state.in_place.loaded.is_set():
                state.in_place.load(reader, state)
            return normal(shown(reader, state))
        finally:
            reader.close()
            con.close()

    try:
        stored_up_to(100 + 2500)
        during = view(held)
        assert rows.table is not None and min(rows.table.column("id").to_pylist()) > 2600
        stored_up_to(100 + LINES)
        assert during == view(state) == view(held)  # the finished import's rows, each once
        # The file's 404s and those of the 100 before it (line 5, a 404's place, holds no format).
        assert len(during) == (LINES // 4 - 1) + (25 - 1)
        by_id = InPlaceRows(catch_up, *_formats())
        by_id.load(
            LogReader(open_for_writing(str(tmp_path / "other.duckdb"))), FilterState(predicate="id > 5")
        )
        assert by_id.table is None and "filter on id" in by_id.error
    finally:
        catch_up.close()
