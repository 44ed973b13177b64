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

STATS_DDL = """
CREATE TABLE IF NOT EXISTS stats (
    ts             TIMESTAMPTZ NOT NULL,
    pid            INTEGER NOT NULL,
    source         VARCHAR NOT NULL,
    lines          BIGINT NOT NULL,
    bytes          BIGINT NOT NULL,
    lines_per_s    DOUBLE NOT NULL,
    parse_failures BIGINT NOT NULL,
    errors         BIGINT NOT NULL,
    drops          BIGINT NOT NULL,
    lag_s          DOUBLE NOT NULL,
    done           BOOLEAN NOT NULL
)
"""

from logscope.store.alerts import ALERTS_DDL  # noqa: E402  (the rule engine's table)
from logscope.store.markers import MARKERS_DDL  # noqa: E402  (change markers)
from logscope.store.patterns import ALL_PATTERN_DDL  # noqa: E402  (the patterns stage's tables)

ALL_DDL = (LOGS_DDL, CHECKPOINTS_DDL, META_DDL, STATS_DDL, ALERTS_DDL, *ALL_PATTERN_DDL, *MARKERS_DDL)
