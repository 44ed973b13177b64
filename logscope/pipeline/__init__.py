"""The ways records travel from sources to the store.

- `streaming`: sources → bounded queue → parse stage → batched writer → subscribers (rules, TUI);
  `ingest --follow`, `tail`, listeners, pipes.
- `bulk`: whole files in blocks, parsed vectorized where the format allows (one-shot `ingest`).
- `small_files`: many small files written a few to a transaction.
- `in_place` and `in_place_scan`: `query SQL FILE…`, SQL over files where they lie, nothing stored.
"""
