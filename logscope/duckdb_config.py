"""The settings every DuckDB instance logscope opens starts with, whatever layer opens it."""

from __future__ import annotations

# Extensions are never downloaded or loaded by themselves (those logscope uses are built into the
# duckdb wheel), community extensions never.
SAFE_CONFIG: dict[str, str | bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}
