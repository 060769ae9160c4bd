"""One member's page as plain data: a few indexed queries, no ORM objects for templates."""

from __future__ import annotations

from dataclasses import dataclass

from .birthday_report import member_birthday
from .clock import from_micros
from .codes import format_code
from .db import database, sql

# rows of each history on the page; more on request (?history=) up to MAX_HISTORY
HISTORY = 20
MAX_HISTORY = 1000
_MEMBER = (
    "SELECT id, name, email, phone, birthday_month, birthday_day, birthday_year, stamps, rounds,"
    " visit_count, spend_cents, joined_at, erased_at FROM member WHERE id = ?"
)
_CARDS = "SELECT code, nfc_uid, created_at, blocked_at FROM card WHERE member_id = ? ORDER BY id"
_VISITS = (
    "SELECT at, stamps, amount_cents, source FROM visit WHERE member_id = ?"
    " ORDER BY at DESC LIMIT ?"
)
_VOUCHERS = (
    "SELECT code, reward, kind, valid_until, redeemed_at, voided_at FROM voucher"
    " WHERE member_id = ? ORDER BY id DESC LIMIT ?"
)
_CONSENTS = (
    "SELECT channel, granted, at, source, wording, version, confirmed_at FROM consent"
    " WHERE member_id = ? ORDER BY at, id"
)
_MESSAGES = (
    "SELECT created_at, kind, state FROM outbox WHERE member_id = ? ORDER BY id DESC LIMIT ?"
)


@dataclass(frozen=True)
class MemberPage:
    member: dict
    cards: list[dict]
    visits: list[dict]
    vouchers: list[dict]
    consents: list[dict]
    messages: list[dict]
    # the birthday flag: next birthday and the latest birthday gift (appliance.birthday_report)
    birthday: dict | None = None
    history: int = HISTORY  # how many rows each history was limited to


class Row(dict):
    """A row as a dict whose columns also read as attributes.

    Templates write `visit.at`: Jinja tries the attribute first and, for a plain dict, pays a
    raised AttributeError before the item — a hundred times on a member page."""

    __slots__ = ()

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _rows(query: str, params: tuple, names: tuple[str, ...], moments: tuple[str, ...] = ()):
    out = []
    for row in database.execute_sql(sql(query), params):
        item = Row(zip(names, row, strict=True))
        for key in moments:
            item[key] = from_micros(item[key])
        out.append(item)
    return out


def member_page(member_id: int, history: int = HISTORY) -> MemberPage | None:
    history = max(1, min(history, MAX_HISTORY))
    found = _rows(
        _MEMBER,
        (member_id,),
        ("id", "name", "email", "phone", "birthday_month", "birthday_day", "birthday_year",
         "stamps", "rounds", "visit_count", "spend_cents", "joined_at", "erased_at"),
        ("joined_at", "erased_at"),
    )  # fmt: skip
    if not found:
        return None
    cards = _rows(_CARDS, (member_id,), ("code", "nfc_uid", "created_at", "blocked_at"),
                  ("created_at", "blocked_at"))  # fmt: skip
    for card in cards:
        card["code"] = format_code(card["code"])
    vouchers = _rows(
        _VOUCHERS, (member_id, history),
        ("code", "reward", "kind", "valid_until", "redeemed_at", "voided_at"),
        ("valid_until", "redeemed_at", "voided_at"),
    )  # fmt: skip
    for voucher in vouchers:
        voucher["code"] = format_code(voucher["code"])
    return MemberPage(
        member=found[0],
        birthday=member_birthday(found[0]),
        cards=cards,
        visits=_rows(
            _VISITS, (member_id, history), ("at", "stamps", "amount_cents", "source"), ("at",)
        ),  # fmt: skip
        vouchers=vouchers,
        consents=_rows(
            _CONSENTS,
            (member_id,),
            ("channel", "granted", "at", "source", "wording", "version", "confirmed_at"),
            ("at", "confirmed_at"),
        ),  # fmt: skip
        messages=_rows(
            _MESSAGES, (member_id, history), ("created_at", "kind", "state"), ("created_at",)
        ),  # fmt: skip
        history=history,
    )
