"""The PassKit web service (Apple's side calls it): registrations, changed serials, latest pass.

Plain functions returning (HTTP status, body, headers) so the web blueprint only adapts HTTP.
Tokens are compared in constant time; an unknown serial answers 401 like a wrong token, so the
service never tells which serials exist.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime

from ..clock import from_micros, to_micros, utcnow
from ..db import sql
from .cards import PassRecord, pass_by_serial

log = logging.getLogger(__name__)
MAX_ID = 200


@dataclass
class Reply:
    status: int
    json: dict | None = None
    body: bytes = b""
    headers: dict = field(default_factory=dict)


def authorized(db, serial: str, header: str | None) -> PassRecord | None:
    """The pass, if the `ApplePass <token>` header carries its token."""
    scheme, _, token = (header or "").partition(" ")
    record = pass_by_serial(db, serial) if len(serial) <= MAX_ID else None
    expected = record.auth_token if record else "-" * 43
    # compare even when the serial is unknown: the time taken says nothing either way
    ok = hmac.compare_digest(token.strip().encode(), expected.encode())
    return record if scheme == "ApplePass" and ok and record else None


def register(db, pass_type_id, device_id, type_id, serial, auth, body, now=None) -> Reply:
    """201 for a new registration, 200 for a known one (push token refreshed), 401 otherwise."""
    now = now or utcnow()
    if type_id != pass_type_id:
        return Reply(404)
    if authorized(db, serial, auth) is None:
        return Reply(401)
    push_token = (body or {}).get("pushToken") if isinstance(body, dict) else None
    if not isinstance(push_token, str) or not push_token or len(device_id) > MAX_ID:
        return Reply(400)
    with db.atomic():
        changed = db.execute_sql(
            sql(
                "UPDATE wallet_registration SET push_token = ? WHERE device_id = ? AND serial = ?",
                db,
            ),
            (push_token[:MAX_ID], device_id, serial),
        ).rowcount
        if changed:
            return Reply(200)
        db.execute_sql(
            sql(
                "INSERT INTO wallet_registration (device_id, push_token, serial, created_at)"
                " VALUES (?, ?, ?, ?)",
                db,
            ),
            (device_id, push_token[:MAX_ID], serial, to_micros(now)),
        )
    return Reply(201)


def unregister(db, pass_type_id, device_id, type_id, serial, auth) -> Reply:
    if type_id != pass_type_id:
        return Reply(404)
    if authorized(db, serial, auth) is None:
        return Reply(401)
    db.execute_sql(
        sql("DELETE FROM wallet_registration WHERE device_id = ? AND serial = ?", db),
        (device_id, serial),
    )
    return Reply(200)


def updated_serials(db, pass_type_id, device_id, type_id, since: str | None) -> Reply:
    """Serials of this device's passes changed after the tag: 200 with the newest tag, or 204."""
    if type_id != pass_type_id:
        return Reply(404)
    try:
        tag = int(since) if since else 0
    except ValueError:
        tag = 0
    rows = db.execute_sql(
        sql(
            "SELECT p.serial, p.update_tag FROM wallet_registration r"
            " JOIN wallet_pass p ON p.serial = r.serial"
            " WHERE r.device_id = ? AND p.update_tag > ? ORDER BY p.update_tag",
            db,
        ),
        (device_id, tag),
    ).fetchall()
    if not rows:
        return Reply(204)
    return Reply(200, {"serialNumbers": [r[0] for r in rows], "lastUpdated": str(rows[-1][1])})


def http_date(seconds: int) -> str:
    return format_datetime(from_micros(seconds * 1_000_000), usegmt=True)


def latest_pass(db, pass_type_id, type_id, serial, auth, if_modified_since, build) -> Reply:
    """200 with the pass and Last-Modified, 304 when unchanged since If-Modified-Since.

    `build(record)` makes the .pkpass bytes (only called when they are sent).
    """
    if type_id != pass_type_id:
        return Reply(404)
    record = authorized(db, serial, auth)
    if record is None:
        return Reply(401)
    last_modified = http_date(record.modified_at)
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            since = None
        if since is not None and since.tzinfo and record.modified_at <= since.timestamp():
            return Reply(304, headers={"Last-Modified": last_modified})
    return Reply(
        200,
        body=build(record),
        headers={"Last-Modified": last_modified, "Cache-Control": "no-cache"},
    )


def device_log(body) -> Reply:
    """Apple's devices report their errors here; the owner reads them in the journal."""
    logs = body.get("logs") if isinstance(body, dict) else None
    for line in (logs or [])[:50]:
        log.warning("wallet device: %s", str(line)[:500])
    return Reply(200)
