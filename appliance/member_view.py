"""One member's page as plain data: indexed queries read in one statement, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo

from .birthday_report import LATEST_GIFT, birthday_flag
from .clock import from_micros_in
from .codes import format_code
from .db import RowList, read_lists

# rows of each history on the page; more on request (?history=) up to MAX_HISTORY
HISTORY = 20
MAX_HISTORY = 1000

_MEMBER = RowList(
    ("id", "name", "email", "phone", "birthday_month", "birthday_day", "birthday_year", "stamps",
     "rounds", "visit_count", "spend_cents", "joined_at", "erased_at"),
    "FROM member WHERE id = ?", (("id", False),),
)  # fmt: skip
_CARDS = RowList(
    ("code", "nfc_uid", "created_at", "blocked_at"), "FROM card WHERE member_id = ?",
    (("id", False),),
)  # fmt: skip
_VOUCHERS = RowList(
    ("code", "reward", "kind", "valid_until", "redeemed_at", "voided_at"),
    "FROM voucher WHERE member_id = ?", (("id", True),), limit=True,
)  # fmt: skip
_VISITS = RowList(
    ("at", "stamps", "amount_cents", "source"), "FROM visit WHERE member_id = ?",
    (("at", True),), limit=True,
)  # fmt: skip
_CONSENTS = RowList(
    ("channel", "granted", "at", "source", "wording", "version", "confirmed_at"),
    "FROM consent WHERE member_id = ?", (("at", False), ("id", False)),
)  # fmt: skip
_MESSAGES = RowList(
    ("created_at", "kind", "state"), "FROM outbox WHERE member_id = ?", (("id", True),),
    limit=True,
)  # fmt: skip
# the whole page in one statement (appliance.db.read_lists)
_PAGE = (_MEMBER, _CARDS, _VOUCHERS, _VISITS, _CONSENTS, _MESSAGES, LATEST_GIFT)


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


def _rows(
    values: list[list], part: RowList, moments: tuple[str, ...] = (), zone: tzinfo = UTC
) -> list[Row]:
    """Each row's values named by its part's columns, the moments among them as datetimes
    in `zone`.

    The moments are converted in the decoded lists, before the rows are made, and the
    column count is checked once per part (every row of a part comes from one SELECT): a
    dict look-up and store per moment and zip's check per row were a third of the member
    page's 20 visits' cost."""
    names = part.columns
    if values and len(values[0]) != len(names):
        raise ValueError(f"{len(values[0])} values for {len(names)} columns {names}")
    if moments:
        at = [names.index(key) for key in moments]
        for row in values:
            for i in at:
                row[i] = from_micros_in(row[i], zone)
    return [Row(zip(names, row, strict=False)) for row in values]  # lengths checked above


def member_page(member_id: int, history: int = HISTORY, zone: tzinfo = UTC) -> MemberPage | None:
    """The member's page, its moments in `zone` (the zone the page shows them in)."""
    history = max(1, min(history, MAX_HISTORY))
    m = member_id
    found, cards, vouchers, visits, consents, messages, gift = read_lists(
        _PAGE, (m, m, m, history, m, history, m, m, history, m, 1)
    )
    if not found:
        return None
    member = _rows(found, _MEMBER, ("joined_at", "erased_at"), zone)[0]
    cards = _rows(cards, _CARDS, ("created_at", "blocked_at"), zone)
    for card in cards:
        card["code"] = format_code(card["code"])
    vouchers = _rows(vouchers, _VOUCHERS, ("valid_until", "redeemed_at", "voided_at"), zone)
    for voucher in vouchers:
        voucher["code"] = format_code(voucher["code"])
    return MemberPage(
        member=member,
        birthday=birthday_flag(member, gift[0] if gift else None),
        cards=cards,
        visits=_rows(visits, _VISITS, ("at",), zone),
        vouchers=vouchers,
        consents=_rows(consents, _CONSENTS, ("at", "confirmed_at"), zone),
        messages=_rows(messages, _MESSAGES, ("created_at",), zone),
        history=history,
    )
