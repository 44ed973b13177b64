"""The bundled format files' TOML, parsed once per version of them and kept as JSON.

Parsing the ~30 bundled files with `tomllib` costs ~35 ms of every command's start; reading the
same documents back with orjson ~4 ms. The documents are kept in
`$XDG_CACHE_HOME/logscope/formats-<digest>.json` (~/.cache by default), the digest covering
Python's version and every file's name and text, so an edited or added file (or another Python)
gives another name and a fresh parse. A document JSON cannot hold exactly (a TOML date) is never
kept; a cache that cannot be read or written is ignored: the files are parsed, as before.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import orjson

PREFIX = "formats-"


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/logscope` (~/.cache/logscope by default)."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache_home) / "logscope"


def parsed_documents(files: list[tuple[str, str]]) -> dict[str, Any] | None:
    """origin -> the parsed TOML document of each (origin, text), from the cache or parsed now
    (and kept); None if a file is not valid TOML (the caller's parse reports it)."""
    path = cache_dir() / f"{PREFIX}{_digest(files)}.json"
    try:
        documents = orjson.loads(path.read_bytes())
        if isinstance(documents, dict) and list(documents) == [origin for origin, _ in files]:
            return documents
    except (OSError, orjson.JSONDecodeError):
        pass
    try:
        documents = {origin: tomllib.loads(text) for origin, text in files}
    except tomllib.TOMLDecodeError:
        return None
    _keep(path, documents)
    return documents


def _digest(files: list[tuple[str, str]]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(sys.version.encode())
    for origin, text in files:
        for part in (origin, text):
            encoded = part.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
    return digest.hexdigest()


def _keep(path: Path, documents: dict[str, Any]) -> None:
    """Write the documents where `parsed_documents` looks (atomically), replacing older ones;
    nothing if JSON would not give them back exactly or the directory cannot be written."""
    try:
        data = orjson.dumps(documents)
        if orjson.loads(data) != documents:
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
