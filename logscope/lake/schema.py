"""The lake's tables: `logs` as in a local database plus who shipped each record, and
`shipments`, each agent's record of what the lake holds (its checkpoint), one row per commit."""

from __future__ import annotations

import duckdb

from logscope.store.schema import LOGS_DDL

# The local `logs` columns, then the agent's identity: the host it runs on and its name there
# (`id` is unique per agent and local database, not across the lake).
AGENT_COLUMNS = ("agent_host", "agent")
LAKE_LOGS_DDL = (
    LOGS_DDL.replace("CREATE TABLE IF NOT EXISTS logs", "CREATE TABLE IF NOT EXISTS lake.logs")
    .replace(" NOT NULL", "")  # DuckLake tables take no constraints
    .rstrip()
    .removesuffix(")")
    .rstrip()
    + ",\n    agent_host  VARCHAR,\n    agent       VARCHAR\n)"
)

SHIPMENTS_DDL = """
CREATE TABLE IF NOT EXISTS lake.shipments (
    agent        VARCHAR,
    agent_host   VARCHAR,
    database_id  VARCHAR,
    first_id     BIGINT,
    last_id      BIGINT,
    records      BIGINT,
    oldest_received_at TIMESTAMPTZ,
    committed_at TIMESTAMPTZ
)
"""

LOCAL_COLUMNS = "id, ts, received_at, source, host, format, level, message, fields, raw"


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the lake's tables where they are missing (`logscope lake init`, and each agent)."""
    con.execute(LAKE_LOGS_DDL)
    con.execute(SHIPMENTS_DDL)


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables()"
        " WHERE database_name = 'lake' AND table_name IN ('logs', 'shipments')"
    ).fetchone()
    return bool(row and row[0] == 2)
