"""The bundled format files' TOML, parsed once per version of them and kept as JSON.

Parsing the ~30 bundled files with `tomllib` costs ~35 ms of every command's start; reading the
same documents back with orjson ~4 ms. The documents are kept in
`$XDG_CACHE_HOME/logscope/formats-<digest>.json` (~/.cache by default), the digest covering
Python's version and every file's name and text, so an edited or added file (or another Python)
gives another name and a fresh parse. A document JSON cannot hold exactly (a TOML date) is never
kept; a cache that cannot be read or written is ignored: the files are parsed, as before.

With them, the first characters of each of their patterns and its gate (parsing/match_start.py,
~20 and ~30 ms for all, which detection asks of every format): the digest covers match_start.py's
text too.
"""

from __future__ import annotations

try:  # hashlib's blake2b itself, without hashlib's OpenSSL part (~2 ms of every start)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from logscope.parsing import match_start

PREFIX = "formats-"


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/logscope` (~/.cache/logscope by default)."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache_home) / "logscope"


def parsed_documents(files: list[tuple[str, str]]) -> dict[str, Any] | None:
    """origin -> the parsed TOML document of each (origin, text), from the cache or parsed now
    (and kept); None if a file is not valid TOML (the caller's parse reports it)."""
    path = _cache_path(files)
    try:
        kept = orjson.loads(path.read_bytes()) if path is not None else {}
        documents, known, gates = kept["documents"], kept["first_chars"], kept["gates"]
        if (
            isinstance(gates, dict)
            and isinstance(documents, dict)
            and list(documents) == [o for o, _ in files]
        ):
            match_start.remember(known)
            match_start.remember_gates(gates)
            return documents
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        pass
    import tomllib  # only when the cache does not answer

    try:
        documents = {origin: tomllib.loads(text) for origin, text in files}
    except tomllib.TOMLDecodeError:
        return None
    known, gates = {}, {}
    for pattern in _patterns(documents):
        chars = match_start.worked_out(pattern)
        known[pattern] = None if chars is None else sorted(chars)
        gates[pattern] = match_start.gate(pattern)
    match_start.remember(known)
    match_start.remember_gates(gates)
    if path is not None:
        _keep(path, {"documents": documents, "first_chars": known, "gates": gates})
    return documents


def _cache_path(files: list[tuple[str, str]]) -> Path | None:
    """Where the documents of `files` are kept (None if match_start.py's text cannot be read or
    there is no home directory)."""
    try:
        return cache_dir() / f"{PREFIX}{_digest(files)}.json"
    except (OSError, RuntimeError):
        return None


def _patterns(documents: dict[str, Any]) -> set[str]:
    """The `patterns` of every `[[format]]` table (the rest is checked when they are read)."""
    found: set[str] = set()
    for document in documents.values():
        tables = document.get("format", [])
        for table in tables if isinstance(tables, list) else []:
            patterns = table.get("patterns", []) if isinstance(table, dict) else []
            if isinstance(patterns, str):
                patterns = [patterns]
            if isinstance(patterns, list):
                found.update(pattern for pattern in patterns if isinstance(pattern, str))
    return found


def _digest(files: list[tuple[str, str]]) -> str:
    digest = blake2b(digest_size=16)
    digest.update(sys.version.encode())
    digest.update(Path(match_start.__file__).read_bytes())
    for origin, text in files:
        for part in (origin, text):
            encoded = part.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
    return digest.hexdigest()


def _keep(path: Path, kept: dict[str, Any]) -> None:
    """Write what `parsed_documents` reads back (atomically), replacing older ones; nothing if
    JSON would not give it back exactly or the directory cannot be written."""
    try:
        data = orjson.dumps(kept)
        if orjson.loads(data) != kept:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        for old in path.parent.glob(f"{PREFIX}*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, TypeError, orjson.JSONEncodeError):
        return
