"""Parsing whole blocks of lines at once, for the bulk import and queries over files in place.

- `plans`: a format's vectorized plan (RE2 through Arrow, times and fields in DuckDB SQL).
- `per_line`: formats without a plan, parsed by their own `parse` straight into Arrow columns.
- `re2`: Python patterns converted for RE2, and where the two engines differ.
- `times`: the time formats' readers as SQL over a column.
"""
