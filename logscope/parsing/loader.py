"""Finding format definitions: the built-in TOML files, then user directories (later ones override)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logscope.errors import LogscopeError, not_utf8
from logscope.parsing.definition import FormatDefinition, load_definitions
from logscope.parsing.toml_cache import parsed_documents

BUILTIN_PACKAGE = "logscope.builtin.parsers"


@dataclass
class DefinitionFile:
    """One TOML file's text and a name to report it by."""

    origin: str
    text: str
    builtin: bool = False  # shipped with logscope


def builtin_files() -> list[DefinitionFile]:
    """The TOML files shipped in the package (the repository's parsers/ directory)."""
    try:
        root: Any = _package_folder(BUILTIN_PACKAGE)
        if root is None:  # not installed as files (a zip): importlib.resources reads it
            from importlib import resources

            root = resources.files(BUILTIN_PACKAGE)
        entries = [entry for entry in root.iterdir() if entry.name.endswith(".toml")]
    except (ModuleNotFoundError, FileNotFoundError):
        # A source tree whose install does not map the package: read parsers/ next to logscope/.
        folder = Path(__file__).resolve().parents[2] / "parsers"
        found = directory_files(folder) if folder.is_dir() else []
        return [DefinitionFile(file.origin, file.text, builtin=True) for file in found]
    return [
        DefinitionFile(f"parsers/{entry.name}", entry.read_text(encoding="utf-8"), builtin=True)
        for entry in sorted(entries, key=lambda entry: entry.name)
    ]


def _package_folder(package: str) -> Path | None:
    """The one folder of a package installed as files, else None (importing importlib.resources
    for it costs ~2 ms of every start)."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if len(locations) == 1 and os.path.isdir(locations[0]) else None


def directory_files(folder: Path) -> list[DefinitionFile]:
    """Every *.toml file in `folder`, sorted by name."""
    files = []
    for path in sorted(folder.glob("*.toml")):
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LogscopeError(f"{path}: {not_utf8(exc)}", 2) from None
        except OSError as exc:
            raise LogscopeError(f"{path}: cannot read format file: {exc.strerror}", 2) from None
        files.append(DefinitionFile(str(path), text))
    return files


def user_format_dirs(extra: list[str] | None = None) -> list[Path]:
    """$XDG_CONFIG_HOME/logscope/formats (when it exists), then each --formats DIR (must exist)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    folders = []
    default = Path(config_home) / "logscope" / "formats"
    if default.is_dir():
        folders.append(default)
    for name in extra or []:
        folder = Path(name)
        if not folder.is_dir():
            raise LogscopeError(f"--formats: {name}: not a directory", 2)
        folders.append(folder)
    return folders


def definitions_in(files: list[DefinitionFile]) -> list[FormatDefinition]:
    """The definitions of several files; a name defined twice among them is an error."""
    seen: dict[str, str] = {}
    result = []
    documents = None
    if files and all(file.builtin for file in files):  # the bundled files: parsed once (cached)
        documents = parsed_documents([(file.origin, file.text) for file in files])
    for file in files:
        document = documents.get(file.origin) if documents is not None else None
        for definition in load_definitions(file.text, file.origin, shipped=file.builtin, document=document):
            definition.builtin = file.builtin
            if definition.name in seen:
                raise LogscopeError(
                    f"{file.origin}: format {definition.name!r}: field 'name': already defined in "
                    f"{seen[definition.name]}",
                    2,
                )
            seen[definition.name] = file.origin
            result.append(definition)
    return result


def load_all_definitions(extra_dirs: list[str] | None = None) -> list[FormatDefinition]:
    """Built-in definitions, overridden by name by the user's ($XDG_CONFIG_HOME, then --formats)."""
    merged: dict[str, FormatDefinition] = {d.name: d for d in definitions_in(builtin_files())}
    for folder in user_format_dirs(extra_dirs):
        for definition in definitions_in(directory_files(folder)):
            merged[definition.name] = definition
    return list(merged.values())
