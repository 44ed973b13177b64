"""Times in SQL for the bulk-import fast path: what `timeformats` readers do, over a column.

A time format's text is split by RE2 into its directives' parts (the reader's own regex), and
DuckDB computes the microseconds with integer date arithmetic, the written offset, a UTC zone
name or the fixed --tz offset, and the year of a year-less date from the same inference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from logscope.parsing.time_formats import _FULL_MONTHS, _MONTHS, _UTC_NAMES, _fixed_offset, pattern_to_regex
from logscope.parsing.time_values import infer_year
from logscope.parsing.vectorized.re2 import sql_literal

# `datetime.fromisoformat` shapes the plan computes itself; other ISO texts go to Python.
_ISO = (
    r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[T ](?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
    r"(?:[.,](?P<f>\d{3}|\d{6}))?(?P<z>Z|[+-]\d{2}:\d{2}|[+-]\d{4})?"
)
_EPOCH = r"(?P<s>[0-9]{1,18}(?:\.[0-9]+)?)"


@dataclass
class TimePlan:
    """One time format of a definition: an RE2 for its text and the SQL that turns parts into µs."""

    regex: str
    groups: list[str]
    max_second: int = 60
    strip: bool = True

    def columns(
        self, index: int, zone_offset: int | None, year_map: str | None
    ) -> tuple[dict[str, str], dict[str, str], str] | None:
        """SQL in three stages for time format `index` (struct column `t<index>`): its texts, its
        numbers, and the time in µs (NULL when Python's reader gives None). None: not computable
        (a time of day without a date, or a zone with daylight saving time and no written offset).
        """
        prefix = f"t{index}_"
        # DuckDB names are case-blind (`M` would read `m`): the struct fields carry long names.
        texts = {f"{prefix}{_TIME_GROUPS[g]}": f"nullif(t{index}.{_TIME_GROUPS[g]}, '')" for g in self.groups}
        part = {g: f"{prefix}{_TIME_GROUPS[g]}" for g in self.groups}
        if "s" in part:
            return texts, {f"{prefix}us": _epoch_sql(part["s"])}, f"{prefix}us"
        if "d" not in part:
            return None  # a time of day only (logback): the date comes from the clock, not the line
        month = _month_sql(part)
        day = f"CAST({part['d']} AS INTEGER)"
        year = _year_sql(part, month, day, year_map)
        offset = _offset_sql(part, zone_offset)
        if year is None or offset is None:
            return None
        numbers = {
            f"{prefix}m": month,
            f"{prefix}d": day,
            f"{prefix}hh": f"CAST({part['H']} AS INTEGER)" if "H" in part else _hour12_sql(part),
            f"{prefix}mi": f"coalesce(CAST({part.get('M', 'NULL')} AS INTEGER), 0)",
            f"{prefix}ss": f"coalesce(CAST({part.get('S', 'NULL')} AS INTEGER), 0)",
            f"{prefix}us": f"coalesce(CAST(rpad(left({part['f']}, 6), 6, '0') AS BIGINT), 0)"
            if "f" in part
            else "0",
            f"{prefix}off": offset,
            f"{prefix}y": year,
        }
        y, m, d = f"{prefix}y", f"{prefix}m", f"{prefix}d"
        hour, minute, second = f"{prefix}hh", f"{prefix}mi", f"{prefix}ss"
        valid = (
            f"{hour} <= 23 AND {minute} <= 59 AND {second} <= {self.max_second} AND {y} >= 1"
            f" AND {d} >= 1 AND {d} <= {_days_in_month(y, m)}"
        )
        local = (
            f"CAST({_days_from_civil(y, m, d)} AS BIGINT) * 86400 + {hour} * 3600 + {minute} * 60 + {second}"
        )
        value = f"CASE WHEN {valid} THEN ((({local}) - {prefix}off) * 1000000 + {prefix}us) END"
        return texts, numbers, value


def _days_in_month(year: str, month: str) -> str:
    leap = f"CASE WHEN {year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0) THEN 1 ELSE 0 END"
    return f"CASE WHEN {month} = 2 THEN 28 + {leap} ELSE 30 + (({month} + {month} // 8) % 2) END"


def _days_from_civil(year: str, month: str, day: str) -> str:
    """Days since 1970-01-01 of a proleptic Gregorian date with year >= 1 (H. Hinnant's formula)."""
    shifted = f"({year} - CASE WHEN {month} <= 2 THEN 1 ELSE 0 END)"
    era = f"({shifted} // 400)"
    year_of_era = f"({shifted} - {era} * 400)"
    day_of_year = f"((153 * ({month} + CASE WHEN {month} > 2 THEN -3 ELSE 9 END) + 2) // 5 + {day} - 1)"
    day_of_era = f"({year_of_era} * 365 + {year_of_era} // 4 - {year_of_era} // 100 + {day_of_year})"
    return f"({era} * 146097 + {day_of_era} - 719468)"


def _epoch_sql(text: str) -> str:
    """`epoch_to_us` on an unsigned decimal text: seconds, ms, µs or ns by magnitude."""
    number = f"CAST({text} AS DOUBLE)"
    whole = f"CAST({text} AS BIGINT)"
    as_float = (
        f"CASE WHEN {number} < 1e11 THEN CAST(round_even({number} * 1000000, 0) AS BIGINT)"
        f" WHEN {number} < 1e14 THEN CAST(round_even({number} * 1000, 0) AS BIGINT)"
        f" WHEN {number} < 1e17 THEN CAST(trunc({number}) AS BIGINT)"
        f" ELSE CAST(trunc({number}) AS BIGINT) // 1000 END"
    )
    as_int = (
        f"CASE WHEN {whole} < 100000000000 THEN {whole} * 1000000"
        f" WHEN {whole} < 100000000000000 THEN {whole} * 1000"
        f" WHEN {whole} < 100000000000000000 THEN {whole} ELSE {whole} // 1000 END"
    )
    return f"CASE WHEN contains({text}, '.') THEN {as_float} ELSE {as_int} END"


def _month_sql(part: dict[str, str]) -> str:
    if "m" in part:
        value = f"CAST({part['m']} AS INTEGER)"
        return f"CASE WHEN {value} BETWEEN 1 AND 12 THEN {value} END"
    names = _MONTHS if "b" in part else _FULL_MONTHS
    text = part.get("b") or part["B"]
    cases = " ".join(f"WHEN {sql_literal(name)} THEN {number}" for name, number in names.items())
    return f"CASE lower({text}) {cases} END"


def _hour12_sql(part: dict[str, str]) -> str:
    hour = f"(coalesce(CAST({part.get('I', 'NULL')} AS INTEGER), 0) % 12)"
    if "p" not in part:
        return hour
    return f"({hour} + CASE WHEN lower({part['p']}) = 'pm' THEN 12 ELSE 0 END)"


def _year_sql(part: dict[str, str], month: str, day: str, year_map: str | None) -> str | None:
    if "Y" in part:
        return f"CAST({part['Y']} AS INTEGER)"
    if "y" in part:
        two = f"CAST({part['y']} AS INTEGER)"
        return f"CASE WHEN {two} < 69 THEN 2000 + {two} ELSE 1900 + {two} END"
    if year_map is None:
        return None
    return f"{year_map}[{month} * 100 + {day}]"


def _offset_sql(part: dict[str, str], zone_offset: int | None) -> str | None:
    """Seconds east of UTC: the written offset, a UTC zone name, else the fixed --tz offset."""
    fallback = str(zone_offset) if zone_offset is not None else None
    if "Z" in part:
        names = ", ".join(sql_literal(name) for name in sorted(_UTC_NAMES))
        fallback = f"CASE WHEN {part['Z']} IN ({names}) THEN 0 ELSE {fallback or 'NULL'} END"
    if "z" in part:
        text = part["z"]
        digits = f"replace({text}, ':', '')"
        sign = f"CASE WHEN left({text}, 1) = '-' THEN -1 ELSE 1 END"
        minutes = f"coalesce(CAST(nullif(substr({digits}, 4, 2), '') AS INTEGER), 0)"
        written = f"{sign} * (CAST(substr({digits}, 2, 2) AS INTEGER) * 3600 + {minutes} * 60)"
        written = f"CASE WHEN {text} = 'Z' THEN 0 ELSE {written} END"
        return f"CASE WHEN {text} IS NOT NULL THEN {written} ELSE {fallback or 'NULL'} END"
    return fallback


_TIME_GROUPS = {
    **{"Y": "year4", "y": "year2", "m": "month", "d": "day", "b": "month_abbr", "B": "month_name"},
    **{"H": "hour", "I": "hour12", "p": "ampm", "M": "minute", "S": "second", "f": "fraction"},
    **{"z": "utc_offset", "Z": "zone_name", "s": "epoch"},
}


def _long_names(regex: str) -> str:
    return re.sub(r"\(\?P<(\w)>", lambda m: f"(?P<{_TIME_GROUPS[m.group(1)]}>", regex)


def time_plan(spec: str) -> TimePlan:
    if spec == "iso":
        groups = ["Y", "m", "d", "H", "M", "S", "f", "z"]
        return TimePlan(_long_names(f"^{_ISO}$"), groups, max_second=59, strip=False)
    if spec == "epoch":
        return TimePlan(_long_names(f"^{_EPOCH}$"), ["s"], strip=False)
    body = pattern_to_regex(spec)
    groups = list(re.compile(body).groupindex)
    return TimePlan(_long_names(rf"^[ \t\n\r\f]*(?:{body})[ \t\n\r\f]*$"), groups)


def fixed_offset(zone: tzinfo) -> int | None:
    """The zone's offset in seconds when it never changes (UTC, a fixed offset), else None."""
    return _fixed_offset(zone)


def year_map_sql(zone: tzinfo, now: datetime | None = None) -> str:
    """A DuckDB MAP from month * 100 + day to the year a year-less date is read in."""
    now = now or datetime.now(zone)
    entries = ", ".join(
        f"{month * 100 + day}: {infer_year(month, day, now)}"
        for month in range(1, 13)
        for day in range(1, 32)
    )
    return f"MAP {{{entries}}}"
