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

PER_PAGE = 20  # a page people read at the counter; "Next" for more
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


def _sources(query: str) -> list[tuple[str, list]]:
    """Each kind of match as an index-ordered query: exact card matches first, then names,
    emails and phone numbers starting with the query."""
    sources = []
    if looks_like_code(query):
        sources.append(("SELECT member_id FROM card WHERE code = ?", [normalize(query)]))
    uid = normalize_uid(query)
    if uid:
        sources.append(("SELECT member_id FROM card WHERE nfc_uid = ?", [uid]))
    folded = _ascii_lower(query)
    sources.append((
        "SELECT id FROM member WHERE lower(name) >= ? AND lower(name) < ?"
        " ORDER BY lower(name), id",
        [folded, folded + _TOP],
    ))  # fmt: skip
    if "@" in query or "." in query or query.isalpha():
        sources.append((
            "SELECT id FROM member WHERE lower(email) >= ? AND lower(email) < ?"
            " ORDER BY lower(email), id",
            [folded, folded + _TOP],
        ))  # fmt: skip
    if query.lstrip("+").replace(" ", "").isdigit():
        sources.append((
            "SELECT id FROM member WHERE phone >= ? AND phone < ? ORDER BY phone, id",
            [query, query + _TOP],
        ))  # fmt: skip
    return sources


def _matching_ids(query: str, wanted: int) -> list[int]:
    # every source stops after `wanted` rows of its own index order, so a common prefix
    # ("an") costs a page, not a sort of thousands of matches
    ids: dict[int, None] = {}
    for text, params in _sources(query):
        for (member_id,) in database.execute_sql(sql(text + " LIMIT ?"), [*params, wanted]):
            ids.setdefault(member_id, None)
        if len(ids) >= wanted:
            break
    return list(ids)[:wanted]


def search_members(query: str = "", page: int = 1, per_page: int = PER_PAGE) -> SearchPage:
    """Members matching `query` (newest first when empty), one page at a time."""
    query = " ".join(query.split())[:120]
    page = max(1, page)
    offset = (page - 1) * per_page
    if not query:
        text = f"SELECT {_COLUMNS} FROM member m ORDER BY m.id DESC LIMIT ? OFFSET ?"
        rows = database.execute_sql(sql(text), [per_page + 1, offset]).fetchall()
    else:
        ids = _matching_ids(query, offset + per_page + 1)[offset:]
        marks = ", ".join("?" * len(ids))
        found = {}
        if ids:
            text = f"SELECT {_COLUMNS} FROM member m WHERE m.id IN ({marks})"
            found = {row[0]: row for row in database.execute_sql(sql(text), ids)}
        rows = [found[i] for i in ids if i in found]
    members = [
        MemberRow(r[0], r[1], r[2], r[3], r[4], r[5], from_micros(r[6]), r[7] is not None)
        for r in rows[:per_page]
    ]
    return SearchPage(query, page, members, len(rows) > per_page)
