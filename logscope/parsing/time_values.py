"""Timestamp conversion: every parsed time becomes integer microseconds since the epoch, UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logscope.errors import LogscopeError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def resolve_zone(name: str | None) -> tzinfo:
    """The zone naive times are read in: an IANA name, 'UTC', or None for the local zone."""
    if name is None or name == "local":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LogscopeError(f"--tz: unknown time zone {name!r}", 2) from exc


def datetime_to_us(moment: datetime, zone: tzinfo) -> int:
    """Microseconds since the epoch; a naive datetime is read in `zone`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return (moment - EPOCH) // _ONE_US


def epoch_to_us(value: float) -> int:
    """An epoch number in seconds, milliseconds, microseconds or nanoseconds, by magnitude."""
    magnitude = abs(value)
    if magnitude < 1e11:
        return round(value * 1_000_000)
    if magnitude < 1e14:
        return round(value * 1_000)
    if magnitude < 1e17:
        return int(value)
    return int(value) // 1000


def parse_iso(text: str, zone: tzinfo) -> int | None:
    """An ISO 8601 / RFC 3339 time (space or T, comma or dot fractions, Z or offsets)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return datetime_to_us(moment, zone)


def parse_time_value(value: object, zone: tzinfo) -> int | None:
    """A time as found in structured logs: an epoch number, a numeric string, or ISO text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return epoch_to_us(value)
    if not isinstance(value, str) or not value:
        return None
    first = value[0]
    if first.isdigit() or first == "-":
        if value.replace(".", "", 1).isdigit():
            return epoch_to_us(float(value) if "." in value else int(value))
        return parse_iso(value, zone)
    return None


def us_to_datetime(micros: int) -> datetime:
    """The inverse of `datetime_to_us`, as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=micros)


def infer_year(month: int, day: int, now: datetime) -> int:
    """The year of a year-less date (syslog `Oct 11`): this year, unless that is over a month
    in the future, then last year (a December line read in January)."""
    year = now.year
    try:
        candidate = datetime(year, month, day, tzinfo=now.tzinfo)
    except ValueError:  # 29 Feb in a non-leap year: it was written in an earlier year
        return year - 1
    if candidate - now > timedelta(days=31):
        return year - 1
    return year
