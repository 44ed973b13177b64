"""The store: an embedded DuckDB database holding every record."""
