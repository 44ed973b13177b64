"""Which lake: a name from `$XDG_CONFIG_HOME/logscope/config.toml`, or a URL given directly.

Credentials are never in the file: it names the environment variables that hold them."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from logscope.errors import LogscopeError, not_utf8

CATALOG_SCHEMES = ("postgres://", "postgresql://")
# Keys that would put a secret in the file: each has an `_env` spelling naming a variable instead.
SECRET_KEYS = ("password", "key_id", "secret", "session_token")
S3_KEYS = ("endpoint", "region", "url_style", "use_ssl", "key_id_env", "secret_env", "session_token_env")


@dataclass(frozen=True)
class S3Settings:
    """Where an `s3://` data path is served and the variables holding its keys (httpfs's secret)."""

    endpoint: str | None = None
    region: str | None = None
    url_style: str | None = None  # "path" for MinIO and most S3-compatible servers
    use_ssl: bool = True
    key_id_env: str | None = None
    secret_env: str | None = None
    session_token_env: str | None = None


@dataclass(frozen=True)
class LakeConfig:
    """One lake: its catalog (a libpq connection string or URL) and where its Parquet files go."""

    name: str
    catalog: str
    data_path: str
    password_env: str | None = None
    s3: S3Settings = field(default_factory=S3Settings)

    def catalog_with_password(self) -> str:
        """The catalog connection string, with the password from its variable (only in memory)."""
        if not self.password_env:
            return self.catalog
        password = os.environ.get(self.password_env)
        if password is None:
            raise LogscopeError(f"lake {self.name}: ${self.password_env} (its password_env) is not set")
        if self.catalog.startswith(CATALOG_SCHEMES):
            parts = urlsplit(self.catalog)
            query = [*parse_qsl(parts.query), ("password", password)]
            return urlunsplit(parts._replace(query=urlencode(query)))
        return f"{self.catalog} password='{_libpq_quote(password)}'"


def _libpq_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def config_path() -> Path:
    """`$XDG_CONFIG_HOME/logscope/config.toml` (~/.config by default)."""
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(home) / "logscope" / "config.toml"


def resolve_lake(spec: str) -> LakeConfig:
    """`spec` as a URL (`postgresql://user@host/db?data_path=DIR`) or a name in the config file."""
    if spec.startswith(CATALOG_SCHEMES):
        return _from_url(spec)
    path = config_path()
    lakes = _read_lakes(path)
    if spec not in lakes:
        known = ", ".join(sorted(lakes)) or "none"
        raise LogscopeError(f"lake {spec!r}: not in {path} (lakes there: {known}) nor a postgresql:// URL")
    return _from_table(spec, lakes[spec], path)


def _from_url(url: str) -> LakeConfig:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    data_path = next((value for key, value in query if key == "data_path"), None)
    if not data_path:
        raise LogscopeError(f"{_without_password(url)}: a lake URL needs ?data_path=DIR (where its files go)")
    if parts.password:
        raise LogscopeError("lake URL: no password in it; name its variable with password_env in the config")
    rest = [(key, value) for key, value in query if key != "data_path"]
    catalog = urlunsplit(parts._replace(query=urlencode(rest)))
    return LakeConfig(name=_without_password(catalog), catalog=catalog, data_path=data_path)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _read_lakes(path: Path) -> dict[str, dict]:
    try:
        document = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise LogscopeError(f"{path}: {not_utf8(exc)}") from None
    except OSError as exc:
        raise LogscopeError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LogscopeError(f"{path}: not valid TOML: {exc}") from None
    lakes = document.get("lake", {})
    if not isinstance(lakes, dict):
        raise LogscopeError(f"{path}: [lake] must be a table of named lakes ([lake.NAME])")
    return lakes


def _from_table(name: str, table: object, path: Path) -> LakeConfig:
    where = f"{path}: [lake.{name}]"
    if not isinstance(table, dict):
        raise LogscopeError(f"{where}: must be a table")
    _refuse_secrets(where, table)
    catalog, data_path = table.get("catalog"), table.get("data_path")
    if not isinstance(catalog, str) or not catalog:
        raise LogscopeError(f"{where}: catalog (a PostgreSQL connection string or URL) is required")
    if not isinstance(data_path, str) or not data_path:
        raise LogscopeError(f"{where}: data_path (a directory or s3:// URL) is required")
    if "password=" in catalog.replace(" ", "").lower() or urlsplit(catalog).password:
        raise LogscopeError(f"{where}: no password in catalog; name its variable with password_env")
    unknown = sorted(set(table) - {"catalog", "data_path", "password_env", "s3"})
    if unknown:
        raise LogscopeError(f"{where}: unknown key {unknown[0]!r}")
    s3 = table.get("s3", {})
    if not isinstance(s3, dict):
        raise LogscopeError(f"{where}: s3 must be a table ([lake.{name}.s3])")
    _refuse_secrets(f"{where}.s3", s3)
    unknown = sorted(set(s3) - set(S3_KEYS))
    if unknown:
        raise LogscopeError(f"{where}.s3: unknown key {unknown[0]!r}")
    return LakeConfig(
        name=name,
        catalog=catalog,
        data_path=data_path,
        password_env=table.get("password_env"),
        s3=S3Settings(**s3),
    )


def _refuse_secrets(where: str, table: dict) -> None:
    for key in SECRET_KEYS:
        if key in table:
            raise LogscopeError(f"{where}: {key} must not be written in the file; use {key}_env = 'VARIABLE'")
