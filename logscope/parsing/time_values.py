"""Timestamp conversion: every parsed time becomes integer microseconds since the epoch, UTC."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

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
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # (only for a named zone: ~2 ms)

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


EPOCH_DATE = date(1970, 1, 1)
YEAR_REFRESH = 600.0  # seconds a LocalCalendar keeps the years it inferred


def offset_seconds(text: str) -> int:
    """Seconds east of UTC in a written offset: `Z`, `+02:00`, `-0530`, `+02`."""
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)


def fixed_offset(zone: tzinfo) -> int | None:
    """The zone's UTC offset in seconds when it never changes (UTC, a fixed offset), else None."""
    if zone is UTC:
        return 0
    if isinstance(zone, timezone):
        delta = zone.utcoffset(None)
        return int(delta.total_seconds())
    return None


class LocalCalendar:
    """What time parsers look up over and over for a zone, each computed once: day numbers of
    dates, the zone's UTC offset at a local hour, and today (re-read at most once a second)."""

    def __init__(self, zone: tzinfo, clock: Callable[[], datetime] | None = None) -> None:
        self.zone = zone
        self.clock = clock
        self.fixed = fixed_offset(zone)
        self._days: dict[tuple[int, int, int], int] = {}
        self._offsets: dict[int, int] = {}  # local hour (since the epoch) -> offset
        self._today: tuple[int, int] = (0, 0)
        self._today_checked = -1.0
        self._years: dict[tuple[int, int], int] = {}
        self._years_checked = 0.0

    def day_number(self, year: int, month: int, day: int) -> int:
        """Days from 1970-01-01 to the date."""
        key = (year, month, day)
        days = self._days.get(key)
        if days is None:
            days = self._days[key] = (date(year, month, day) - EPOCH_DATE).days
        return days

    def offset_at(self, local: int, days: int, hour: int) -> int:
        """The zone's UTC offset in seconds at `local` (local seconds since the epoch, on day
        number `days` at `hour`)."""
        if self.fixed is not None:
            return self.fixed
        key = local // 3600
        offset = self._offsets.get(key)
        if offset is None:
            moment = datetime(1970, 1, 1) + timedelta(days=days, hours=hour)
            delta = moment.replace(tzinfo=self.zone).utcoffset() or timedelta(0)
            offset = self._offsets[key] = int(delta.total_seconds())
        return offset

    def year_of(self, month: int, day: int) -> int:
        """The year of a year-less date (`infer_year` from now), re-read at most every
        `YEAR_REFRESH` seconds so that a long follow crosses New Year."""
        mono = time.monotonic()
        if mono - self._years_checked > YEAR_REFRESH:
            self._years.clear()
            self._years_checked = mono
        year = self._years.get((month, day))
        if year is None:
            year = self._years[(month, day)] = infer_year(month, day, self.now())
        return year

    def now(self) -> datetime:
        """Now in the zone (from the clock when there is one: tests, replays)."""
        now = self.clock() if self.clock else datetime.now(self.zone)
        return now.astimezone(self.zone) if now.tzinfo is not None else now

    def today(self) -> tuple[int, int]:
        """Today's day number and the local seconds of now."""
        mono = time.monotonic()
        if mono - self._today_checked >= 1.0:
            now = self.now()
            self._today = ((now.date() - EPOCH_DATE).days, now.hour * 3600 + now.minute * 60 + now.second)
            self._today_checked = mono
        return self._today
