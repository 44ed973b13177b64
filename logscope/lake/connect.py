"""Opening a lake: DuckDB with the ducklake, postgres_scanner (and for S3 httpfs) extensions
loaded from their PyPI wheels by path, never downloaded, and the lake attached as `lake`."""

from __future__ import annotations

import importlib.util
import os

import duckdb

from logscope.errors import LogscopeError
from logscope.lake.config import CATALOG_SCHEMES, LakeConfig
from logscope.store.database import SAFE_CONFIG
from logscope.store.sql_text import string_literal

LAKE = "lake"  # the name the lake is attached under
# libpq's connect_timeout unless the catalog string sets one: an unreachable catalog host fails
# a connection attempt in this time instead of the system's TCP timeout (minutes).
CONNECT_TIMEOUT_SECONDS = 10
# DuckLake's words when a read-only ATTACH finds no lake in the catalog.
NOT_A_LAKE = "creating a new DuckLake is explicitly disabled"
# Each extension's wheel (`pip install 'logscope[lake]'`) and its file inside the package.
EXTENSIONS = {
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "ducklake": "duckdb_extension_ducklake",
    "httpfs": "duckdb_extension_httpfs",
}


def extension_file(name: str) -> str:
    """The extension's file for the running DuckDB, from its wheel; a clear error without it."""
    package = EXTENSIONS[name]
    spec = importlib.util.find_spec(package)
    version = duckdb.__version__
    hint = f"the lake needs the {name} extension for DuckDB {version}: pip install 'logscope[lake]'"
    if spec is None or spec.origin is None:
        raise LogscopeError(f"{hint} ({package} is not installed)")
    path = os.path.join(os.path.dirname(spec.origin), "extensions", f"v{version}", f"{name}.duckdb_extension")
    if not os.path.exists(path):
        found = os.listdir(os.path.join(os.path.dirname(spec.origin), "extensions"))
        raise LogscopeError(f"{hint} ({package} has {', '.join(sorted(found)) or 'none'})")
    return path


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def open_lake(config: LakeConfig, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB (SAFE_CONFIG, UTC) with the lake attached as `lake`."""
    con = duckdb.connect(":memory:", config=dict(SAFE_CONFIG))
    try:
        con.execute("SET TimeZone = 'UTC'")
        uses_s3 = config.data_path.startswith(("s3://", "s3a://", "gcs://", "r2://"))
        names = ["postgres_scanner", "ducklake", *(["httpfs"] if uses_s3 else [])]
        for name in names:
            con.execute(f"LOAD {string_literal(extension_file(name))}")
        if uses_s3:
            _create_s3_secret(con, config)
        options = f"DATA_PATH {string_literal(config.data_path)}" + (", READ_ONLY" if read_only else "")
        catalog = _with_connect_timeout(config.catalog_with_password())
        attach = f"ATTACH {string_literal('ducklake:postgres:' + catalog)} AS {LAKE} ({options})"
        con.execute(attach)
    except duckdb.Error as exc:
        con.close()
        message = _hide_password(one_line(exc), config)
        if NOT_A_LAKE in message:
            message = "the catalog holds no lake yet (run `logscope lake init`)"
        raise LogscopeError(f"lake {config.name}: {message}") from exc
    except BaseException:
        con.close()
        raise
    return con


def _with_connect_timeout(catalog: str) -> str:
    if "connect_timeout" in catalog:
        return catalog
    if catalog.startswith(CATALOG_SCHEMES):
        return catalog + ("&" if "?" in catalog else "?") + f"connect_timeout={CONNECT_TIMEOUT_SECONDS}"
    return f"{catalog} connect_timeout={CONNECT_TIMEOUT_SECONDS}"


def _hide_password(text: str, config: LakeConfig) -> str:
    password = os.environ.get(config.password_env) if config.password_env else None
    return text.replace(password, "***") if password else text


def _create_s3_secret(con: duckdb.DuckDBPyConnection, config: LakeConfig) -> None:
    """httpfs's S3 secret from the settings, the keys read from the variables they name."""
    s3 = config.s3
    parts = ["TYPE s3"]
    keys = (("KEY_ID", s3.key_id_env), ("SECRET", s3.secret_env), ("SESSION_TOKEN", s3.session_token_env))
    for key, env in keys:
        if env:
            value = os.environ.get(env)
            if value is None:
                raise LogscopeError(f"lake {config.name}: ${env} (s3 {key.lower()}_env) is not set")
            parts.append(f"{key} {string_literal(value)}")
    for key, value in (("ENDPOINT", s3.endpoint), ("REGION", s3.region), ("URL_STYLE", s3.url_style)):
        if value:
            parts.append(f"{key} {string_literal(value)}")
    parts.append(f"USE_SSL {'true' if s3.use_ssl else 'false'}")
    con.execute(f"CREATE OR REPLACE SECRET logscope_lake_s3 ({', '.join(parts)})")
