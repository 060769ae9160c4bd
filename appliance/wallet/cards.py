"""What a wallet pass shows for a member, as plain data, and the member's pass record."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from ..clock import to_micros, utcnow
from ..db import sql
from ..program import load_program
from ..refusal import N_, Refusal
from ..vouchers import usable_vouchers


class WalletError(Refusal):
    """A pass cannot be made (unknown member, no card, wallet not set up): says what to do."""


@dataclass(frozen=True)
class CardState:
    member_id: int
    name: str
    code: str  # canonical card code: what the barcode carries
    stamps: int
    stamps_needed: int
    next_reward: str
    stamps_to_next: int
    vouchers: list = field(default_factory=list)
    locale: str = ""
    offer: str = ""  # the latest campaign message sent to the pass
    closed: bool = False  # the member was erased: the pass is voided, with nothing personal

    @property
    def language(self) -> str:
        """The member's language for the texts a pass builds (labels come from .lproj)."""
        lang = (self.locale or "").replace("-", "_").split("_")[0]
        return lang if lang in TEXTS else "en"

    def text(self, key: str) -> str:
        return TEXTS[self.language][key]

    @property
    def status_line(self) -> str:
        """The sentence the lock screen shows when it changes, in the member's language."""
        if self.language == "en":
            stamps = "1 stamp" if self.stamps == 1 else f"{self.stamps} stamps"
            return f"You have {stamps} — {self.stamps_to_next} to {self.next_reward.lower()}"
        return self.text("status").format(
            n=self.stamps, left=self.stamps_to_next, reward=self.next_reward
        )


# what a pass says in sentences (values, not labels), per member language; rewards are the
# owner's own words and stay as written
TEXTS = {
    "en": {"stamps_changed": "Stamps: %@", "vouchers_changed": "Rewards waiting: %@",
           "none": "None yet", "next": "Next reward", "vouchers": "Rewards waiting",
           "stamps": "Stamps", "closed": "This card was closed."},
    "he": {"status": "יש לך {n} חותמות — עוד {left} עד {reward}",
           "stamps_changed": "חותמות: %@", "vouchers_changed": "פרסים ממתינים: %@",
           "none": "עדיין אין", "next": "הפרס הבא", "vouchers": "פרסים ממתינים",
           "stamps": "חותמות", "closed": "הכרטיס הזה נסגר."},
    "kk": {"status": "Сізде {n} мөр бар — {reward} үшін тағы {left}",
           "stamps_changed": "Мөрлер: %@", "vouchers_changed": "Күтіп тұрған сыйлықтар: %@",
           "none": "Әзірге жоқ", "next": "Келесі сыйлық", "vouchers": "Күтіп тұрған сыйлықтар",
           "stamps": "Мөрлер", "closed": "Бұл карта жабылды."},
    "zh": {"status": "您有 {n} 个印章 — 再集 {left} 个即可获得{reward}",
           "stamps_changed": "印章：%@", "vouchers_changed": "待领取的奖励：%@",
           "none": "暂无", "next": "下一个奖励", "vouchers": "待领取的奖励",
           "stamps": "印章", "closed": "此卡已关闭。"},
}  # fmt: skip


@dataclass(frozen=True)
class PassRecord:
    member_id: int
    serial: str
    auth_token: str
    update_tag: int
    modified_at: int  # whole seconds since the epoch


_MEMBER = (
    "SELECT m.id, m.name, m.stamps, m.locale, m.erased_at,"
    " (SELECT c.code FROM card c WHERE c.member_id = m.id AND c.blocked_at IS NULL"
    "  ORDER BY c.id LIMIT 1),"
    " (SELECT w.offer FROM wallet_pass w WHERE w.member_id = m.id) FROM member m WHERE m.id = ?"
)


def card_state(
    db, member_id: int, now: datetime | None = None, *, closed_ok: bool = False
) -> CardState:
    """The member's stamp card as a pass shows it. Raises WalletError.

    With closed_ok, an erased member's pass is a closed state (to void the saved pass).
    """
    now = now or utcnow()
    row = db.execute_sql(sql(_MEMBER, db), (member_id,)).fetchone()
    if row is not None and row[4] is not None and closed_ok:
        return CardState(member_id, "", "", 0, 0, "", 0, closed=True)
    if row is None or row[4] is not None:
        raise WalletError(N_("There is no member %(id)s."), id=member_id)
    if row[5] is None:
        raise WalletError(
            N_("Member %(id)s has no usable card: give them a card first."), id=member_id
        )
    program = load_program(db)
    stamps = row[2]
    upcoming = [t for t in program.tiers if t.stamps > stamps] or [program.tiers[-1]]
    return CardState(
        member_id=row[0],
        name=row[1] or "",
        code=row[5],
        stamps=stamps,
        stamps_needed=program.stamps_needed,
        next_reward=upcoming[0].reward,
        stamps_to_next=upcoming[0].stamps - stamps,
        vouchers=usable_vouchers(db, member_id, to_micros(now)),
        locale=row[3] or "",
        offer=row[6] or "",
    )


_PASS_COLUMNS = "member_id, serial, auth_token, update_tag, modified_at"


def _next_tag(db, now_us: int) -> int:
    row = db.execute_sql("SELECT MAX(update_tag) FROM wallet_pass").fetchone()
    return max(now_us, (row[0] or 0) + 1)


def ensure_pass(db, member_id: int, now: datetime | None = None) -> PassRecord:
    """The member's pass record, created on first use with a random serial and token."""
    now = now or utcnow()
    with db.atomic():
        row = db.execute_sql(
            sql(f"SELECT {_PASS_COLUMNS} FROM wallet_pass WHERE member_id = ?", db), (member_id,)
        ).fetchone()
        if row:
            return PassRecord(*row)
        now_us = to_micros(now)
        record = PassRecord(
            member_id,
            secrets.token_hex(10),
            # Apple requires at least 16 characters; 32 random bytes, url-safe
            secrets.token_urlsafe(32),
            _next_tag(db, now_us),
            now_us // 1_000_000,
        )
        db.execute_sql(
            sql(
                f"INSERT INTO wallet_pass ({_PASS_COLUMNS}, created_at, offer)"
                " VALUES (?, ?, ?, ?, ?, ?, '')",
                db,
            ),
            (*_astuple(record), now_us),
        )
    return record


def _astuple(r: PassRecord) -> tuple:
    return (r.member_id, r.serial, r.auth_token, r.update_tag, r.modified_at)


def pass_by_serial(db, serial: str) -> PassRecord | None:
    row = db.execute_sql(
        sql(f"SELECT {_PASS_COLUMNS} FROM wallet_pass WHERE serial = ?", db), (serial,)
    ).fetchone()
    return PassRecord(*row) if row else None


def touch_pass(db, member_id: int, now: datetime) -> PassRecord | None:
    """Mark the pass changed: a new, strictly larger update tag and modification second."""
    now_us = to_micros(now)
    with db.atomic():
        row = db.execute_sql(
            sql(f"SELECT {_PASS_COLUMNS} FROM wallet_pass WHERE member_id = ?", db), (member_id,)
        ).fetchone()
        if row is None:
            return None
        old = PassRecord(*row)
        record = PassRecord(
            member_id,
            old.serial,
            old.auth_token,
            _next_tag(db, now_us),
            max(now_us // 1_000_000, old.modified_at + 1),
        )
        db.execute_sql(
            sql("UPDATE wallet_pass SET update_tag = ?, modified_at = ? WHERE member_id = ?", db),
            (record.update_tag, record.modified_at, member_id),
        )
    return record
