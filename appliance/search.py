"""Member search for the admin: each kind of match is an index lookup, never a table scan.

A query may be a card code, an NFC UID, the start of an email address, of a phone number or
of a name. Each becomes an indexed range or equality; the union is paged in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clock import from_micros
from .codes import looks_like_code, normalize
from .db import database, sql
from .tokens import normalize_uid

PER_PAGE = 50
_TOP = chr(0x10FFFF)  # sorts after every character: [q, q+_TOP) is "starts with q"
_COLUMNS = "m.id, m.name, m.email, m.phone, m.stamps, m.visit_count, m.last_visit_at, m.erased_at"


@dataclass(frozen=True)
class MemberRow:
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


def _matches(query: str) -> tuple[list[str], list]:
    parts, params = [], []
    if looks_like_code(query):
        parts.append("SELECT member_id FROM card WHERE code = ?")
        params.append(normalize(query))
    uid = normalize_uid(query)
    if uid:
        parts.append("SELECT member_id FROM card WHERE nfc_uid = ?")
        params.append(uid)
    folded = _ascii_lower(query)
    parts.append("SELECT id FROM member WHERE lower(name) >= ? AND lower(name) < ?")
    params += [folded, folded + _TOP]
    if "@" in query or "." in query or query.isalpha():
        parts.append("SELECT id FROM member WHERE lower(email) >= ? AND lower(email) < ?")
        params += [folded, folded + _TOP]
    if query.lstrip("+").replace(" ", "").isdigit():
        parts.append("SELECT id FROM member WHERE phone >= ? AND phone < ?")
        params += [query, query + _TOP]
    return parts, params


def search_members(query: str = "", page: int = 1, per_page: int = PER_PAGE) -> SearchPage:
    """Members matching `query` (newest first when empty), one page at a time."""
    query = " ".join(query.split())[:120]
    page = max(1, page)
    offset = (page - 1) * per_page
    if not query:
        text = f"SELECT {_COLUMNS} FROM member m ORDER BY m.id DESC LIMIT ? OFFSET ?"
        params: list = [per_page + 1, offset]
    else:
        parts, params = _matches(query)
        text = (
            f"SELECT {_COLUMNS} FROM member m WHERE m.id IN ({' UNION '.join(parts)})"
            " ORDER BY m.name, m.id LIMIT ? OFFSET ?"
        )
        params += [per_page + 1, offset]
    rows = database.execute_sql(sql(text), params).fetchall()
    members = [
        MemberRow(r[0], r[1], r[2], r[3], r[4], r[5], from_micros(r[6]), r[7] is not None)
        for r in rows[:per_page]
    ]
    return SearchPage(query, page, members, len(rows) > per_page)
