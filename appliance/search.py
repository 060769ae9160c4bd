"""Member search for the admin: each kind of match is an index lookup, never a table scan.

A query may be a card code, an NFC UID, the start of an email address, of a phone number or
of a name. Each becomes an indexed range or equality; the union is paged in SQL. The
matches are read in one statement, the page's members in a second (appliance.db.read_lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import NamedTuple

from .clock import from_micros_in
from .codes import looks_like_code, normalize
from .db import RowList, read_lists
from .tokens import normalize_uid

PER_PAGE = 20  # a page people read at the counter; "Next" for more
_TOP = chr(0x10FFFF)  # sorts after every character: [q, q+_TOP) is "starts with q"
_COLUMNS = ("id", "name", "email", "phone", "stamps", "visit_count", "last_visit_at", "erased_at")


class MemberRow(NamedTuple):
    """One member in a list (a tuple: a page makes twenty, a frozen dataclass cost 4x more)."""

    id: int
    name: str
    email: str | None
    phone: str | None
    stamps: int
    visit_count: int
    last_visit_at: object
    erased: bool


@dataclass(frozen=True)
class SearchPage:
    query: str
    page: int
    rows: list[MemberRow]
    has_more: bool


def _ascii_lower(text: str) -> str:
    # SQLite's lower() folds ASCII only; the query must be folded the same way
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def _sources(query: str) -> list[tuple[RowList, list]]:
    """Each kind of match as an index-ordered list of member ids: exact card matches first,
    then names, emails and phone numbers starting with the query."""
    sources = []
    if looks_like_code(query):
        sources.append((_BY_CODE, [normalize(query)]))
    uid = normalize_uid(query)
    if uid:
        sources.append((_BY_UID, [uid]))
    folded = _ascii_lower(query)
    sources.append((_BY_NAME, [folded, folded + _TOP]))
    if "@" in query or "." in query or query.isalpha():
        sources.append((_BY_EMAIL, [folded, folded + _TOP]))
    if query.lstrip("+").replace(" ", "").isdigit():
        sources.append((_BY_PHONE, [query, query + _TOP]))
    return sources


_BY_CODE = RowList(("member_id",), "FROM card WHERE code = ?", (("id", False),), limit=True)
_BY_UID = RowList(("member_id",), "FROM card WHERE nfc_uid = ?", (("id", False),), limit=True)
_BY_NAME = RowList(
    ("id",), "FROM member WHERE lower(name) >= ? AND lower(name) < ?",
    (("lower(name)", False), ("id", False)), limit=True,
)  # fmt: skip
_BY_EMAIL = RowList(
    ("id",), "FROM member WHERE lower(email) >= ? AND lower(email) < ?",
    (("lower(email)", False), ("id", False)), limit=True,
)  # fmt: skip
_BY_PHONE = RowList(
    ("id",), "FROM member WHERE phone >= ? AND phone < ?", (("phone", False), ("id", False)),
    limit=True,
)  # fmt: skip
_NEWEST = RowList(_COLUMNS, "FROM member", (("id", True),), limit=True, offset=True)


def matches_query(query: str, wanted: int) -> tuple[tuple[RowList, ...], list]:
    """The lists of matching member ids (card, name, email, phone) and their parameters."""
    sources = _sources(query)
    params = [value for _, source_params in sources for value in (*source_params, wanted)]
    return tuple(part for part, _ in sources), params


def _matching_ids(query: str, wanted: int) -> list[int]:
    # every source stops after `wanted` rows of its own index order, so a common prefix
    # ("an") costs a page, not a sort of thousands of matches; all are read in one statement
    lists, params = matches_query(query, wanted)
    ids: dict[int, None] = {}
    for found in read_lists(lists, params):
        for (member_id,) in found:
            ids.setdefault(member_id, None)
    return list(ids)[:wanted]


def _by_ids(count: int) -> RowList:
    return RowList(
        _COLUMNS, f"FROM member WHERE id IN ({', '.join('?' * count)})", (("id", False),)
    )


def search_members(
    query: str = "", page: int = 1, per_page: int = PER_PAGE, zone: tzinfo = UTC
) -> SearchPage:
    """Members matching `query` (newest first when empty), one page at a time; last visits
    in `zone` (the zone the page shows them in)."""
    query = " ".join(query.split())[:120]
    page = max(1, page)
    offset = (page - 1) * per_page
    if not query:
        (rows,) = read_lists((_NEWEST,), [per_page + 1, offset])
    else:
        ids = _matching_ids(query, offset + per_page + 1)[offset:]
        found = {}
        if ids:
            (listed,) = read_lists((_by_ids(len(ids)),), ids)
            found = {row[0]: row for row in listed}
        rows = [found[i] for i in ids if i in found]
    members = [
        MemberRow(r[0], r[1], r[2], r[3], r[4], r[5], from_micros_in(r[6], zone), r[7] is not None)
        for r in rows[:per_page]
    ]
    return SearchPage(query, page, members, len(rows) > per_page)
