"""The bundled format files' parsed TOML kept as JSON (parsing/toml_cache.py): the definitions
read back from the cache equal those parsed from the files, an edited file is parsed again, and a
damaged, unwritable or inexact cache only costs the parse."""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import pytest

from logscope.parsing.definition import FormatDefinition, load_definitions
from logscope.parsing.loader import builtin_files, definitions_in
from logscope.parsing.match_start import first_chars, gate, known_gate, worked_out
from logscope.parsing.toml_cache import PREFIX, cache_dir, parsed_documents


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "logscope"


def kept(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{PREFIX}*.json"))


def test_the_bundled_definitions_read_back_equal_the_parsed_ones(cache_home: Path) -> None:
    files = builtin_files()
    parsed = [d for f in files for d in load_definitions(f.text, f.origin, shipped=True)]
    for definition in parsed:
        definition.builtin = True  # as definitions_in marks them
    assert cache_dir() == cache_home
    first = definitions_in(files)  # parses, and keeps the documents
    (written,) = kept(cache_home)
    second = definitions_in(files)  # reads them back
    assert first == parsed and second == parsed and len(parsed) > 80
    assert kept(cache_home) == [written]


def test_the_bundled_patterns_first_characters_are_kept_with_them(cache_home: Path) -> None:
    """Detection asks every format for its patterns' first characters and gates: those read back
    equal those worked out from each pattern, for every bundled pattern."""
    files = builtin_files()
    definitions_in(files)
    (path,) = kept(cache_home)
    known = orjson.loads(path.read_bytes())["first_chars"]
    patterns = {p for d in definitions_in(files) if isinstance(d, FormatDefinition) for p in d.patterns}
    assert set(known) == patterns and len(patterns) > 100
    for pattern in patterns:
        worked = worked_out(pattern)
        assert known[pattern] == (None if worked is None else sorted(worked)), pattern
        assert first_chars(pattern) == worked
    assert sum(chars is not None for chars in known.values()) > 50
    gates = orjson.loads(path.read_bytes())["gates"]
    assert set(gates) == patterns
    assert all(gates[pattern] == gate(pattern) == known_gate(pattern) for pattern in patterns)


def test_an_edited_file_is_parsed_again_and_replaces_the_old_cache(cache_home: Path) -> None:
    files = [("a.toml", 'x = "one"\n'), ("b.toml", "y = [1, 2]\n")]
    assert parsed_documents(files) == {"a.toml": {"x": "one"}, "b.toml": {"y": [1, 2]}}
    (old,) = kept(cache_home)
    edited = [("a.toml", 'x = "two"\n'), files[1]]
    assert parsed_documents(edited) == {"a.toml": {"x": "two"}, "b.toml": {"y": [1, 2]}}
    (new,) = kept(cache_home)
    assert new != old
    assert parsed_documents(edited)["a.toml"] == {"x": "two"}


def test_a_damaged_cache_is_parsed_again_and_rewritten(cache_home: Path) -> None:
    files = [("a.toml", 'x = "one"\n')]
    parsed_documents(files)
    (path,) = kept(cache_home)
    path.write_bytes(b'{"documents": {"a.toml": {"x": "kept"}}, "first_chars": {}, "gates": {}}')
    assert parsed_documents(files) == {"a.toml": {"x": "kept"}}  # read back, not parsed
    path.write_bytes(b'{"documents": {"a.toml": {"x": "forged"')  # cut short
    assert parsed_documents(files) == {"a.toml": {"x": "one"}}
    path.write_bytes(b'{"documents": {"other.toml": {}}, "first_chars": {}, "gates": {}}')  # not these files
    assert parsed_documents(files) == {"a.toml": {"x": "one"}}
    path.write_bytes(b'{"documents": {"a.toml": {"x": "forged"}}, "first_chars": {}}')  # no gates
    assert parsed_documents(files) == {"a.toml": {"x": "one"}}
    path.write_bytes(b'{"a.toml": {"x": "forged"}}')  # another layout
    assert parsed_documents(files) == {"a.toml": {"x": "one"}}
    assert kept(cache_home) == [path] and b"forged" not in path.read_bytes()


def test_what_json_cannot_hold_exactly_is_not_kept(cache_home: Path) -> None:
    files = [("dated.toml", "when = 2026-12-07T10:00:00Z\nratio = nan\n")]
    documents = parsed_documents(files)
    assert documents is not None and documents["dated.toml"]["when"] == tomllib.loads(files[0][1])["when"]
    assert kept(cache_home) == []


def test_an_unwritable_cache_directory_only_costs_the_parse(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert parsed_documents([("a.toml", "x = 1\n")]) == {"a.toml": {"x": 1}}


def test_invalid_toml_is_left_to_the_caller_s_parse(cache_home: Path) -> None:
    assert parsed_documents([("bad.toml", "[[format]\n")]) is None
    assert kept(cache_home) == []


def test_the_bundled_files_found_without_importlib_resources_are_its_files() -> None:
    """builtin_files reads the package's folder (importlib.resources, ~2 ms to import, only for a
    package not installed as files): the same files as importlib.resources gives."""
    from importlib import resources

    from logscope.parsing.loader import BUILTIN_PACKAGE, _package_folder

    folder = _package_folder(BUILTIN_PACKAGE)
    assert folder is not None
    named = sorted(
        entry.name for entry in resources.files(BUILTIN_PACKAGE).iterdir() if entry.name.endswith(".toml")
    )
    assert [file.origin for file in builtin_files()] == [f"parsers/{name}" for name in named]
    assert len(named) > 20
    assert _package_folder("logscope.no_such_package") is None
