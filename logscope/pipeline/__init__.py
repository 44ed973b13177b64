"""The ways records travel from sources to the store, and a run assembled around them.

- `run`: one run of `ingest`, `tail` or `rules backtest`: writer, pipeline, and what is attached
  (pattern mining, `rules`, `services`, anything `attach`ed); docs/architecture.md, "The run".
- `streaming`: sources → bounded queue → parse stage → batched writer → subscribers (rules, TUI);
  `ingest --follow`, `tail`, listeners, pipes. `figures`: what a run counts.
- `whole_files`, `bulk` and `small_files`: the bulk path, whole files in blocks, parsed vectorized
  where the format allows (one-shot `ingest`, and the catch-up of a follower).
- `in_place` and `in_place_scan`: `query SQL FILE…`, SQL over files where they lie, nothing stored.
"""
