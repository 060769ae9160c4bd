"""The box's outgoing event log: one row per business change, in that change's transaction."""

from __future__ import annotations

import json
import uuid
from weakref import WeakKeyDictionary

from ..db import sql

# the payload's shape; the hub refuses what it does not know rather than guess
EVENT_SCHEMA = 1

_INSERT = (
    "INSERT INTO event (uuid, box_id, type, payload, schema_version, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_box_ids: WeakKeyDictionary = WeakKeyDictionary()


def box_id(db) -> str:
    """This box's id in the chain (made by schema 8), read once per open database."""
    found = _box_ids.get(db)
    if found is None:
        row = db.execute_sql(sql("SELECT value FROM shop_setting WHERE key = ?", db), ("box_id",))
        found = _box_ids[db] = row.fetchone()[0]
    return found


def record_chain_event(
    db, type_: str, payload: dict, now_us: int, event_id: str | None = None
) -> str:
    """Insert one event row; call inside the business change's transaction. Returns its UUID
    (`event_id` when the change was announced under it already, as a voucher claim is)."""
    event_id = event_id or str(uuid.uuid4())
    db.execute_sql(
        sql(_INSERT, db),
        (
            event_id,
            box_id(db),
            type_,
            json.dumps(payload, separators=(",", ":")),
            EVENT_SCHEMA,
            now_us,
        ),
    )
    return event_id


_PRUNE_UNCHAINED = (
    "DELETE FROM event WHERE id IN (SELECT id FROM event WHERE created_at < ?"
    " ORDER BY id LIMIT 5000)"
)


def prune_unchained(db, now_us: int, keep_days: float = 14) -> int:
    """A box in no chain: nothing will ever send its events, so rows older than keep_days go
    (a box with events cannot join a chain later anyway; see chain.provision.join_chain)."""
    cutoff = now_us - int(keep_days * 86_400_000_000)
    total = 0
    while True:
        with db.atomic():
            gone = db.execute_sql(sql(_PRUNE_UNCHAINED, db), (cutoff,)).rowcount
        total += gone
        if gone < 5000:
            return total


# what identifies a person in an event payload; the card code stays (the centre's visits are
# keyed by it, and no card with that code is left at any counter after an erasure)
_PERSONAL = {"name": "", "email": None, "phone": None, "external_id": None, "locale": ""}
_MENTIONS = "SELECT id, payload FROM event WHERE type IN ('member', 'card', 'stamp', 'redeem')"


def scrub_payload(payload: dict) -> dict:
    member = payload.get("member")
    if isinstance(member, dict):
        for key, blank in _PERSONAL.items():
            if key in member:
                member[key] = blank
        if "birthday" in member:
            member["birthday"] = [None, None, None]
    if "nfc_uid" in payload:
        payload["nfc_uid"] = None  # a card's chip UID identifies its holder too
    return payload


def scrub_member_events(db, member_id: int) -> int:
    """Blank one member's personal data in every event row naming them, sent or not (call in
    the erasure's transaction: an unsent row then leaves the box without it). Returns rows."""
    # a LIKE finds the candidates (payloads are compact JSON); the parsed id decides
    like = f'%"member":{{"id":{int(member_id)},%'
    rows = db.execute_sql(sql(_MENTIONS + " AND payload LIKE ?", db), (like,)).fetchall()
    done = 0
    for row_id, text in rows:
        payload = json.loads(text)
        if (payload.get("member") or {}).get("id") != member_id:
            continue
        db.execute_sql(
            sql("UPDATE event SET payload = ? WHERE id = ?", db),
            (json.dumps(scrub_payload(payload), separators=(",", ":")), row_id),
        )
        done += 1
    return done
