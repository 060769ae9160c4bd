"""The floor for a tap: the hot path's reads and writes as one raw sqlite3 transaction.

No ORM, no result objects: what SQLite itself costs for a tap with the appliance's pragmas
(WAL, synchronous=FULL). `counter.handle` is measured against this.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

from appliance.db import SQLITE_PRAGMAS
from appliance.program import Tier, advance

_CARD = (
    "SELECT c.id, c.code, c.blocked_at, m.id, m.external_id, m.name, m.stamps, m.rounds,"
    " m.last_stamp_at FROM card c JOIN member m ON m.id = c.member_id WHERE c.nfc_uid = ?"
)
_PROGRAM = (
    "SELECT p.id, p.voucher_days, t.stamps, t.reward FROM program p"
    " JOIN reward_tier t ON t.program_id = p.id WHERE p.active = 1 ORDER BY t.stamps"
)
_VOUCHERS = (
    "SELECT code, kind, reward, valid_from, valid_until FROM voucher"
    " WHERE member_id = ? AND redeemed_at IS NULL AND valid_from <= ? AND valid_until > ?"
    " ORDER BY valid_until, id"
)
_STAMP = (
    "UPDATE member SET stamps = ?, rounds = ?, last_stamp_at = ?, visit_count = visit_count + 1,"
    " last_visit_at = ?, first_visit_at = COALESCE(first_visit_at, ?),"
    " spend_cents = spend_cents + ? WHERE id = ? AND stamps = ? AND rounds = ?"
    " AND (last_stamp_at IS NULL OR last_stamp_at <= ?)"
)
_VISIT = (
    "INSERT INTO visit (member_id, card_id, at, stamps, amount_cents, source, staff_id,"
    " clock_synced) VALUES (?, ?, ?, ?, ?, ?, NULL, 1)"
)
_CODE_TAKEN = "SELECT 1 FROM voucher WHERE code = ?"
_VOUCHER = (
    "INSERT INTO voucher (code, member_id, kind, reward, issued_at, valid_from, valid_until,"
    " source_key) VALUES (?, ?, 'tier', ?, ?, ?, ?, ?)"
)
_OUTBOX = (
    "INSERT INTO outbox (event_key, kind, member_id, payload, state, due_at, attempts,"
    " last_error, created_at, channel, campaign_id)"
    " VALUES (?, 'reward_unlocked', ?, ?, 'pending', ?, 0, '', ?, '', NULL)"
    " ON CONFLICT (event_key, channel) DO NOTHING"
)
# the voucher slip, queued in the same commit (a document of the slip's size)
_PRINT = (
    "INSERT INTO print_job (created_at, document, state, attempts, last_error)"
    " VALUES (?, ?, 'pending', 0, '') RETURNING id"
)
# the wallet pass's coalesced update and the chain's event row, as the tap writes them
_WALLET_DIRTY = (
    "INSERT INTO wallet_dirty (member_id, changed_at, attempts, last_error)"
    " SELECT ?, ?, 0, '' WHERE EXISTS (SELECT 1 FROM wallet_pass WHERE member_id = ?)"
    " ON CONFLICT (member_id) DO UPDATE SET changed_at = excluded.changed_at"
)
_CHAIN_EVENT = (
    "INSERT INTO event (uuid, box_id, type, payload, schema_version, created_at)"
    " VALUES (?, 'floor-box', 'stamp', ?, 1, ?)"
)
_EVENT = (
    "INSERT INTO counter_event (at, source, status, message, member_id, payload)"
    " VALUES (?, ?, ?, ?, ?, ?) RETURNING id"
)
DAY_US = 86_400_000_000


class FloorTap:
    """One connection with the appliance's pragmas; `tap` is one IMMEDIATE transaction."""

    def __init__(self, path, cooldown_us: int):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for name, value in SQLITE_PRAGMAS.items():
            self.conn.execute(f"PRAGMA {name} = {value}")
        self.cooldown_us = cooldown_us
        self.serial = 0

    def close(self) -> None:
        self.conn.close()

    def tap(self, uid: str, now_us: int, amount_cents, source: str = "bench") -> tuple[str, int]:
        """(status, vouchers unlocked) for a tap of an existing card, as handle() decides it."""
        ex = self.conn.execute
        ex("BEGIN IMMEDIATE")
        try:
            card_id, code, _, member_id, _, name, cur, rounds, last = ex(_CARD, (uid,)).fetchone()
            rows = ex(_PROGRAM).fetchall()
            tiers = tuple(Tier(r[2], r[3]) for r in rows)
            waiting = ex(_VOUCHERS, (member_id, now_us, now_us)).fetchall()
            unlocked = []
            if last is not None and now_us - last < self.cooldown_us:
                status = "cooldown"
            else:
                status = "stamped"
                new, new_rounds, unlocked = advance(cur, rounds, 1, tiers)
                ex(
                    _STAMP,
                    (
                        new,
                        new_rounds,
                        now_us,
                        now_us,
                        now_us,
                        amount_cents or 0,
                        member_id,
                        cur,
                        rounds,
                        now_us - self.cooldown_us,
                    ),
                )
                ex(_VISIT, (member_id, card_id, now_us, 1, amount_cents, source))
                ex(_WALLET_DIRTY, (member_id, now_us, member_id))
                for rnd, tier in unlocked:
                    key = f"tier:{member_id}:{rnd}:{tier.stamps}"
                    self.serial += 1
                    # unique without a MAC: the floor measures the database, not the signing
                    voucher = f"VFLOOR{self.serial:010d}"
                    ex(_CODE_TAKEN, (voucher,)).fetchone()
                    end = now_us + rows[0][1] * DAY_US
                    ex(_VOUCHER, (voucher, member_id, tier.reward, now_us, now_us, end, key))
                    payload = json.dumps({"code": voucher, "reward": tier.reward})
                    ex(_OUTBOX, (f"reward_unlocked:{key}", member_id, payload, now_us, now_us))
                    slip = json.dumps({"kind": "voucher", "blocks": [payload] * 8})
                    ex(_PRINT, (now_us, slip)).fetchone()
                if unlocked:
                    waiting = ex(_VOUCHERS, (member_id, now_us, now_us)).fetchall()
                chain = json.dumps({"card": code, "member": member_id, "at": now_us})
                ex(_CHAIN_EVENT, (str(uuid.uuid4()), chain, now_us))
            # a payload of the same shape and size class as CounterResult's JSON
            payload = json.dumps(
                {
                    "status": status,
                    "member": {"id": member_id, "name": name},
                    "card": {"code": code, "stamps": cur},
                    "vouchers": waiting,
                    "source": source,
                },
                separators=(",", ":"),
            )
            ex(_EVENT, (now_us, source, status, status, member_id, payload)).fetchone()
        except BaseException:
            ex("ROLLBACK")
            raise
        ex("COMMIT")
        return status, len(unlocked)
