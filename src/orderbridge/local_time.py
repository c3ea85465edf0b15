"""The installation's time zone: naming it, showing a stored (UTC) moment in it, and its calendar days.

Stored times stay UTC everywhere; only what a person reads is local. "Today" for a seller is their own
calendar day, so "due today" asks `today_range` for the UTC bounds of that day here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orderbridge.clock import Clock, as_utc

FALLBACK_ZONE = "UTC"


class UnknownZoneError(ValueError):
    """A time zone name that is not in the IANA database (message names the value)."""


def machine_zone_name() -> str:
    """The IANA name of this machine's zone (TZ, /etc/localtime or /etc/timezone); UTC if none is set."""
    import tzlocal

    try:
        name = tzlocal.get_localzone_name() or FALLBACK_ZONE
        zone_named(name)
    except (ZoneInfoNotFoundError, UnknownZoneError, OSError):  # a local zone with no IANA name
        return FALLBACK_ZONE
    return name


def zone_named(name: str) -> ZoneInfo:
    """The zone of an IANA name such as "Europe/London"; UnknownZoneError for anything else."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZoneError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/London, America/New_York or UTC"
        ) from None


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored moment (naive means UTC) as the clock on the wall of `zone` shows it."""
    return as_utc(moment).astimezone(zone)


def day_range(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC bounds [start, end) of a calendar day in `zone` (23 or 25 hours long on a DST change)."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return as_utc(start), as_utc(end)


def today_range(clock: Clock, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC bounds [start, end) of today in `zone`: filter with ``start <= t < end`` ("due today")."""
    return day_range(local(clock(), zone).date(), zone)
