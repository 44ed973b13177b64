"""The patterns stage: mines a template for every stored record (docs/patterns.md)."""
