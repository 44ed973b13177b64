"""The DuckDB schema. docs/schema.md describes every column; a test keeps the two in step."""

SCHEMA_VERSION = 1

LOGS_DDL = """
CREATE TABLE IF NOT EXISTS logs (
    id          BIGINT NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    source      VARCHAR NOT NULL,
    host        VARCHAR,
    format      VARCHAR NOT NULL,
    level       VARCHAR,
    message     VARCHAR,
    fields      JSON,
    raw         VARCHAR NOT NULL
)
"""

CHECKPOINTS_DDL = """
CREATE TABLE IF NOT EXISTS checkpoints (
    key         VARCHAR PRIMARY KEY,
    dev         BIGINT NOT NULL,
    inode       BIGINT NOT NULL,
    fingerprint VARCHAR NOT NULL,
    "offset"    BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
)
"""

META_DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
)
"""

ALL_DDL = (LOGS_DDL, CHECKPOINTS_DDL, META_DDL)
