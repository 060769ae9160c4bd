"""Clock sanity: before NTP has synchronised the Pi's clock, time never runs backwards."""

from dataclasses import replace
from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import Visit

from .conftest import T0


@pytest.fixture
def marker(box, tmp_path):
    """A box whose clock counts as synchronised only while the marker file exists."""
    path = tmp_path / "synchronized"
    settings = replace(box.settings, clock_sync_file=str(path))
    unsynced = box_mod.start(settings)
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    add_member("Bob", card_uid="04B23B4C5D6E7F", now=T0)
    return unsynced, path


def test_a_synchronised_clock_is_taken_as_it_is(marker):
    box, path = marker
    path.touch()
    result = handle("04A23B4C5D6E7F", "t", now=T0, box=box)
    assert result.clock_synced is True and result.at == "2026-11-24T09:00:00Z"
    assert Visit.get().clock_synced is True


def test_an_unsynchronised_clock_never_stamps_before_the_last_event(marker):
    box, path = marker
    path.touch()
    handle("04A23B4C5D6E7F", "t", now=T0, box=box)
    path.unlink()  # a reboot without network: the clock restarts from an old time
    result = handle("04B23B4C5D6E7F", "t", now=T0 - timedelta(days=400), box=box)
    assert result.status == "stamped" and result.clock_synced is False
    assert result.at == "2026-11-24T09:00:00Z"
    visit = Visit.select().order_by(Visit.id.desc()).get()
    assert visit.at == T0 and visit.clock_synced is False


def test_an_unsynchronised_clock_ahead_of_the_log_is_kept(marker):
    box, _ = marker
    result = handle("04A23B4C5D6E7F", "t", now=T0 + timedelta(hours=1), box=box)
    assert result.at == "2026-11-24T10:00:00Z" and result.clock_synced is False


def test_the_cooldown_still_holds_when_the_clock_jumps_back(marker):
    box, path = marker
    path.touch()
    handle("04A23B4C5D6E7F", "t", now=T0, box=box)
    path.unlink()
    again = handle("04A23B4C5D6E7F", "t", now=T0 - timedelta(days=2), box=box)
    assert again.status == "cooldown"


def test_microseconds_come_back_as_the_same_aware_utc_moment():
    from datetime import UTC, datetime

    from appliance.clock import from_micros, to_micros

    for moment in (
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # before the epoch
        datetime(2026, 11, 24, 9, 15, 30, 123_456, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ):
        back = from_micros(to_micros(moment))
        assert back == moment and back.tzinfo is UTC and back.microsecond == moment.microsecond
    assert from_micros(None) is None
    assert from_micros(1_764_000_000_000_001) == datetime(2025, 11, 24, 16, 0, 0, 1, tzinfo=UTC)
