"""The parse stage: turn raw lines into records with time, level, message and fields."""
