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


def test_microseconds_read_in_a_zone_are_the_moment_astimezone_gives():
    """appliance.clock.from_micros_in: fromtimestamp over a float of seconds, exact to the
    microsecond while that float can be (before 2242), Python's arithmetic after; the same
    wall time and fold as astimezone, across daylight-saving changes in both directions."""
    from datetime import UTC, datetime
    from random import Random
    from zoneinfo import ZoneInfo

    from appliance.clock import from_micros, from_micros_in, to_micros

    names = ("Europe/Berlin", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns")
    zones = [ZoneInfo(name) for name in names] + [UTC]
    rng = Random(5)
    # Berlin's autumn change, to the microsecond
    change = to_micros(datetime(2026, 10, 25, 0, 59, 59, 999_999, tzinfo=UTC))
    values = [change + d for d in range(-2, 3)]
    values += [rng.randrange(0, 2**33 * 1_000_000) for _ in range(5000)]
    values += [2**33 * 1_000_000 + 1, 200_000_000_000_000_123]  # past the float's exactness
    for value in values:
        zone = rng.choice(zones)
        ours, expected = from_micros_in(value, zone), from_micros(value).astimezone(zone)
        assert ours == expected and ours.tzinfo is zone, (value, zone)
        wall = (ours.replace(tzinfo=None), ours.fold)
        assert wall == (expected.replace(tzinfo=None), expected.fold), (value, zone)
    berlin = ZoneInfo("Europe/Berlin")
    twice = [to_micros(datetime(2026, 10, 25, h, 30, tzinfo=UTC)) for h in (0, 1)]
    folds = [from_micros_in(value, berlin) for value in twice]
    assert [(m.hour, m.fold) for m in folds] == [(2, 0), (2, 1)]  # 02:30 twice, told apart
    assert from_micros_in(None, berlin) is None
