"""BSD syslog (RFC 3164) lines in SQL: what `Rfc3164Parser.parse` makes of the usual lines.

The usual lines, `[<PRI>]Mmm dd hh:mm:ss[.ffffff] host app[pid]: message`, are matched by one
anchored RE2 pattern that stops after the tag (the message is the rest of the line): printable
ASCII in the header, one space between its parts, a host that does not end with `:`, a tag. On
them the parser's own patterns have one way to match, the one this pattern gives. The time is
computed as the parser does (the year inferred from the date, the fixed --tz offset), the level
from the priority or inferred from the message's words (infer_level_sql), the fields JSON as the
parser's dict writes it. `ok` is false for other lines (no host, no tag, two spaces, an invalid
date or priority, a 19-digit pid...), which go back to the streaming parser, as with the regex
plans (plans.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from logscope.parsing.inferlevel import INFERRED_FIELD, infer_level_sql
from logscope.parsing.levels import SYSLOG_SEVERITY
from logscope.parsing.syslog import FACILITIES, MONTHS, SEVERITIES
from logscope.parsing.time_values import infer_year
from logscope.parsing.vectorized.level_tables import LevelColumns, arrow_table
from logscope.parsing.vectorized.re2 import sql_literal
from logscope.parsing.vectorized.times import _days_from_civil, _days_in_month, fixed_offset

if TYPE_CHECKING:
    import pyarrow as pa

_HOST = r"[!-Z\\^-~]{0,254}[!-9;-Z\\^-~]"  # `[^\s\[\]]{1,255}`, not ending with `:`
_APP = r"[!-9;-Z\\^-~]{1,128}"  # `[^\s\[\]:]{1,128}`
_PID = r"[!-\\^-~]{1,32}"  # `[^\]\s]{1,32}`
_STRICT = (
    r"^(?P<all>(?:<(?P<pri>[0-9]{1,3})>)?(?P<mon>" + "|".join(MONTHS) + r") {1,2}(?P<day>[0-9]{1,2})"
    r" (?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.(?P<frac>[0-9]{1,6}))?"
    f" (?P<host>{_HOST}) (?P<app>{_APP})(?:\\[(?P<pid>{_PID})\\])?: ?)"
)
_GROUPS = ("all", "pri", "mon", "day", "hms", "frac", "host", "app", "pid")


@dataclass
class SyslogPlan:
    """The SQL plan for the `syslog` format (see the module docstring)."""

    zone_offset: int
    year: str  # SQL: the year of a year-less date, from `md` (month * 100 + day)
    name: str = "syslog"

    def level_table(self, texts: list[str]) -> pa.Table:
        return arrow_table(self.level_columns(texts))

    def level_columns(self, texts: list[str]) -> LevelColumns:
        """Priority (as an integer's text) -> level, facility and severity, as `decode_priority`."""
        del texts  # every priority is in the table
        priorities = range(192)
        return {
            "text": [str(number) for number in priorities],
            "level": [SYSLOG_SEVERITY[number % 8] for number in priorities],
            "facility": [FACILITIES[number // 8] for number in priorities],
            "severity": [SEVERITIES[number % 8] for number in priorities],
            "exact": [True] * 192,
        }

    def select_sql(self, lines: str, levels: str) -> str:
        """Rows (key, ts_us, level, message, host, fields, raw, ok) for every line of `lines`."""
        names = "[" + ", ".join(sql_literal(name) for name in _GROUPS) + "]"
        s1 = f"SELECT key, line, regexp_extract(line, {sql_literal(_STRICT)}, {names}) AS m FROM ({lines}) l"
        months = " ".join(f"WHEN {sql_literal(name)} THEN {number}" for name, number in MONTHS.items())
        s2 = (
            "SELECT key, line, m.all <> '' AS matched, nullif(m.pri, '') AS pri,"
            f" CASE m.mon {months} END AS mo, TRY_CAST(m.day AS INTEGER) AS d,"
            " TRY_CAST(substr(m.hms, 1, 2) AS INTEGER) AS hh, TRY_CAST(substr(m.hms, 4, 2) AS INTEGER) AS mi,"
            " TRY_CAST(substr(m.hms, 7, 2) AS INTEGER) AS ss,"
            " CASE WHEN m.frac <> '' THEN CAST(rpad(m.frac, 6, '0') AS BIGINT) ELSE 0 END AS us,"
            " m.host AS host, m.app AS app, nullif(m.pid, '') AS pid,"
            f" substr(line, length(m.all) + 1) AS message FROM ({s1}) s1"
        )
        y = f"({self.year})"
        valid = f"d >= 1 AND d <= {_days_in_month(y, 'mo')} AND hh <= 23 AND mi <= 59 AND ss <= 59"
        local = f"CAST({_days_from_civil(y, 'mo', 'd')} AS BIGINT) * 86400 + hh * 3600 + mi * 60 + ss"
        ts_us = f"CASE WHEN matched AND {valid} THEN (({local}) - {self.zone_offset}) * 1000000 + us END"
        s3 = f"SELECT *, mo * 100 + d AS md FROM ({s2}) s2"  # `year` reads md
        s4 = (
            f"SELECT *, {ts_us} AS ts_us,"
            f" CASE WHEN pri IS NULL THEN {infer_level_sql('message')} END AS inferred,"
            " CAST(CAST(pri AS INTEGER) AS VARCHAR) AS level_text,"
            f" regexp_full_match(coalesce(pid, ''), '[0-9]+') AS numeric_pid FROM ({s3}) s3"
        )
        marker = sql_literal(f"{json.dumps(INFERRED_FIELD)}:true")
        parts = [
            "CASE WHEN pri IS NOT NULL THEN '\"facility\":' || to_json(lv.facility)"
            " || ',\"severity\":' || to_json(lv.severity) END",
            "'\"app\":' || to_json(app)",
            "CASE WHEN numeric_pid THEN '\"pid\":' || CAST(CAST(pid AS BIGINT) AS VARCHAR)"
            " WHEN pid IS NOT NULL THEN '\"procid\":' || to_json(pid) END",
            f"CASE WHEN inferred IS NOT NULL THEN {marker} END",
        ]
        fields = f"'{{' || concat_ws(',', {', '.join(parts)}) || '}}'"
        ok = (
            "matched AND ts_us IS NOT NULL AND (pri IS NULL OR lv.level IS NOT NULL)"
            " AND (NOT numeric_pid OR length(pid) <= 18)"
        )
        return (
            "SELECT key, ts_us, CASE WHEN pri IS NULL THEN inferred ELSE lv.level END AS level, message,"
            f" host, {fields} AS fields, line AS raw, coalesce({ok}, false) AS ok"
            f" FROM ({s4}) s4 LEFT JOIN {levels} lv ON lv.text = s4.level_text"
        )


def syslog_plan_for(parser: object, zone: tzinfo, now: datetime | None = None) -> SyslogPlan | str:
    """The SQL plan for BSD syslog, or why there is none."""
    from logscope.parsing.syslog import Rfc3164Parser

    if type(parser) is not Rfc3164Parser:
        return f"{getattr(parser, 'name', parser)}: not the BSD syslog format"
    zone = getattr(parser, "zone", None) or zone
    offset = fixed_offset(zone)
    if offset is None:
        return "syslog: a zone with daylight saving time (year-less dates need a fixed offset)"
    year = _year_sql(now or datetime.now(zone))
    if year is None:
        return "syslog: the year of year-less dates is not a date range"
    return SyslogPlan(offset, year)


def _year_sql(now: datetime) -> str | None:
    """`infer_year(month, day, now)` as SQL over `md` (month * 100 + day): this year, or last
    year from a date on (and for 29 Feb in a non-leap year); None if it is not of that shape."""
    import calendar

    # Dates no year has (31 Apr) are refused by the time's own check, whatever the year.
    keys = [
        month * 100 + day
        for month in range(1, 13)
        for day in range(1, calendar.monthrange(2024, month)[1] + 1)
    ]
    earlier = {key for key in keys if infer_year(key // 100, key % 100, now) == now.year - 1}
    later_dates = sorted(key for key in earlier if key != 229)
    start = later_dates[0] if later_dates else 1232
    if {key for key in keys if key >= start} | ({229} & earlier) != earlier:
        return None
    leap_day = " OR md = 229" if 229 in earlier else ""
    return f"CASE WHEN md >= {start}{leap_day} THEN {now.year - 1} ELSE {now.year} END"
