"""The lake: many agents ship their committed records into one DuckLake (PostgreSQL catalog,
Parquet files on a shared directory or S3), which any of them can then query as one (docs/lake.md)."""
