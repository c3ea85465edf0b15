"""Privacy settings: retention may go down, never past 30 days; keys stay out of the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderbridge.config import SettingsError, load_settings


@pytest.mark.parametrize("days", [0, 31, 90])
def test_p1_the_retention_period_is_1_to_30_days(days: int) -> None:
    with pytest.raises(SettingsError, match="RETENTION_DAYS"):
        load_settings(retention_days=days)


def test_p1_a_shorter_retention_period_is_allowed() -> None:
    assert load_settings(retention_days=7).retention_days == 7


@pytest.mark.parametrize("name", ["key_store_dir", "kek_file"])
def test_ac18_keys_inside_the_data_directory_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(SettingsError, match="database backups would copy it"):
        load_settings(data_dir=tmp_path / "data", **{name: tmp_path / "data" / "keys"})
