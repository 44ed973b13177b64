"""Following files as they grow: identity, per-file reading with rotation, and the watcher."""
