"""The live terminal UI: a Textual app over the DuckDB store, fed by the pipeline."""
