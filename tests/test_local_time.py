"""The installation's time zone: the setting (named when wrong), and the UTC bounds of a local day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import tzlocal

from orderbridge.config import SettingsError, load_settings
from orderbridge.local_time import day_range, today_range, zone_named


def test_an_unknown_zone_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"ORDERBRIDGE_TIME_ZONE: .*unknown time zone 'Mars/Olympus'"):
        load_settings(time_zone="Mars/Olympus")
    assert load_settings(time_zone="Europe/London").zone == zone_named("Europe/London")


def test_the_default_zone_is_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    monkeypatch.delenv("ORDERBRIDGE_TIME_ZONE", raising=False)
    tzlocal.reload_localzone()
    try:
        assert load_settings().time_zone == "Asia/Tokyo"
    finally:
        monkeypatch.undo()
        tzlocal.reload_localzone()


def test_today_is_the_local_calendar_day_in_utc_bounds() -> None:
    london = zone_named("Europe/London")
    # 23:30 UTC on 30 June is already 1 July in London (BST, UTC+1)
    start, end = today_range(lambda: datetime(2026, 6, 30, 23, 30, tzinfo=UTC), london)
    assert (start, end) == (datetime(2026, 6, 30, 23, tzinfo=UTC), datetime(2026, 7, 1, 23, tzinfo=UTC))
    # the day the clocks go back is 25 hours long
    start, end = day_range(date(2026, 10, 25), london)
    assert (end - start).total_seconds() == 25 * 3600
