"""logscope: log aggregation and real-time analysis on DuckDB."""

__version__ = "0.1.0"
