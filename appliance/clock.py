"""Time as data: aware UTC datetimes in the core (a page's view may read them in its zone),
integer microseconds in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    # the epoch plus a timedelta: half the time of fromtimestamp().replace() (a member page
    # converts a few dozen moments), the same aware UTC datetime; microseconds given by
    # position, not keyword (a third less again)
    return _EPOCH + timedelta(0, 0, int(value))


# below 2**33 seconds (the year 2242) a float of seconds is within half a microsecond of
# every whole number of microseconds, and fromtimestamp rounds to the nearest one
_FLOAT_EXACT = 2**33 * 1_000_000


def from_micros_in(value: int | None, zone) -> datetime | None:
    """from_micros, already in `zone` (a tzinfo): the same moment as
    from_micros(value).astimezone(zone), fold included, in a third of the time.

    A page shows its moments in the shop's zone: a moment made in that zone is not converted
    again when shown (astimezone to the zone it is in returns it as it is)."""
    if value is None:
        return None
    if 0 <= value < _FLOAT_EXACT:
        return datetime.fromtimestamp(value / 1_000_000, zone)
    return from_micros(value).astimezone(zone)


def parse_moment(text: str) -> datetime:
    """Parse ISO-8601; a time without an offset is UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
