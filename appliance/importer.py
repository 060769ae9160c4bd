"""CSV import from a paper card or another system: all or nothing, and idempotent.

members.csv: external_id,name,email,phone,birthday,joined_at,locale,email_consent,sms_consent
visits.csv:  member_external_id,at,amount,stamps
Imported visits stamp the card through the same rules as the counter; vouchers they unlock
are valid from the visit's own time, so rewards earned long ago arrive already expired.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import box as box_mod
from . import suppression
from .amounts import parse_amount
from .audit import audit
from .clock import parse_moment, to_micros, utcnow
from .db import database
from .members import (
    MemberError,
    clean_email,
    clean_name,
    clean_phone,
    new_card,
    parse_birthday,
)
from .models import Member, Visit
from .program import advance, load_program
from .vouchers import issue_voucher_sql

MEMBER_COLUMNS = (
    "external_id",
    "name",
    "email",
    "phone",
    "birthday",
    "joined_at",
    "locale",
    "email_consent",
    "sms_consent",
)
VISIT_COLUMNS = ("member_external_id", "at", "amount", "stamps")
MAX_ROWS = 1_000_000


class CsvImportError(ValueError):
    """The first bad row: file, line and reason, in one sentence."""


@dataclass
class _MemberRow:
    line: int
    external_id: str
    fields: dict


@dataclass
class _VisitRow:
    line: int
    external_id: str
    at: datetime
    amount_cents: int | None
    stamps: int


def _rows(path: Path, columns: tuple[str, ...]):
    """Yield (line number, row dict); refuses a file whose header lacks a column."""
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvImportError(f"{path}: cannot open ({exc.strerror}).") from None
    with fh:
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvImportError(f"{path.name} line 1: unreadable header ({exc}).") from None
        missing = [c for c in columns if c not in header]
        if missing:
            raise CsvImportError(
                f"{path.name} line 1: the header lacks {', '.join(missing)} "
                f"(expected {','.join(columns)})."
            )
        try:
            for row in reader:
                if reader.line_num > MAX_ROWS:
                    raise CsvImportError(f"{path.name}: more than {MAX_ROWS} lines.")
                if None in row:
                    raise CsvImportError(f"{path.name} line {reader.line_num}: too many fields.")
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvImportError(
                f"{path.name} line {reader.line_num}: unreadable ({exc})."
            ) from None


def _consent(value: str, column: str) -> bool:
    if value.lower() in ("yes", "y", "true", "1"):
        return True
    if value.lower() in ("no", "n", "false", "0", ""):
        return False
    raise MemberError(f"{column} must be yes or no, not {value!r}")


def _moment(value: str, column: str) -> datetime:
    try:
        return parse_moment(value)
    except ValueError:
        raise MemberError(f"{column} {value!r} is not an ISO-8601 time") from None


def _parse_members(path: Path) -> list[_MemberRow]:
    rows, seen = [], {}
    for line, row in _rows(path, MEMBER_COLUMNS):
        try:
            ext = row["external_id"]
            if not ext or len(ext) > 64:
                raise MemberError("external_id must have 1 to 64 characters")
            if ext in seen:
                raise MemberError(f"external_id {ext!r} repeats line {seen[ext]}")
            seen[ext] = line
            joined = _moment(row["joined_at"], "joined_at") if row["joined_at"] else None
            email_ok = _consent(row["email_consent"], "email_consent")
            sms_ok = _consent(row["sms_consent"], "sms_consent")
            fields = {
                "name": clean_name(row["name"]),
                "email": clean_email(row["email"]),
                "phone": clean_phone(row["phone"]),
                "birthday": parse_birthday(row["birthday"]),
                "joined_at": joined,
                "locale": row["locale"][:16],
                "email_consent": email_ok,
                "sms_consent": sms_ok,
            }
        except MemberError as exc:
            raise CsvImportError(f"{path.name} line {line}: {exc}.") from None
        rows.append(_MemberRow(line, ext, fields))
    return rows


def _parse_visits(path: Path, known_ids: set[str]) -> list[_VisitRow]:
    rows, seen = [], {}
    for line, row in _rows(path, VISIT_COLUMNS):
        try:
            ext = row["member_external_id"]
            if ext not in known_ids:
                raise MemberError(f"no member with external_id {ext!r}")
            at = _moment(row["at"], "at")
            key = (ext, to_micros(at))
            if key in seen:
                raise MemberError(f"repeats the visit on line {seen[key]}")
            seen[key] = line
            amount = None
            if row["amount"]:
                try:
                    amount = parse_amount(row["amount"])
                except ValueError as exc:
                    raise MemberError(f"amount {exc}") from None
            try:
                stamps = int(row["stamps"] or "0")
            except ValueError:
                raise MemberError(f"stamps {row['stamps']!r} is not a whole number") from None
            if not 0 <= stamps <= 50:
                raise MemberError("stamps must be between 0 and 50")
        except MemberError as exc:
            raise CsvImportError(f"{path.name} line {line}: {exc}.") from None
        rows.append(_VisitRow(line, ext, at, amount, stamps))
    return rows


def import_files(members_csv, visits_csv, now: datetime | None = None) -> dict:
    """Import both files in one transaction. Raises CsvImportError naming the first bad row."""
    now = now or utcnow()
    members_path, visits_path = Path(members_csv), Path(visits_csv)
    member_rows = _parse_members(members_path)
    in_db = {
        m.external_id: m
        for m in Member.select(Member.id, Member.external_id).where(
            Member.external_id.is_null(False)
        )
    }
    visit_rows = _parse_visits(visits_path, {r.external_id for r in member_rows} | set(in_db))
    report = {
        "members_added": 0,
        "members_skipped": 0,
        "visits_added": 0,
        "visits_skipped": 0,
        "vouchers_issued": 0,
    }
    box = box_mod.current()
    with database.atomic():
        program = load_program()
        for row in member_rows:
            if row.external_id in in_db:
                report["members_skipped"] += 1
                continue
            member = _create_member(row, now, box.code_key)
            suppression.mark_member(box, member.id, member.email, member.phone, now)
            in_db[row.external_id] = member
            report["members_added"] += 1
        for visits in _by_member(visit_rows).values():
            added, issued = _apply_visits(in_db[visits[0].external_id], visits, program, box)
            report["visits_added"] += added
            report["visits_skipped"] += len(visits) - added
            report["vouchers_issued"] += issued
        audit(
            "import",
            "import.csv",
            now,
            members=str(members_path),
            visits=str(visits_path),
            **report,
        )
    return report


def _create_member(row: _MemberRow, now: datetime, key: bytes) -> Member:
    f = row.fields
    bday = f["birthday"]
    joined = f["joined_at"] or now
    member = Member.create(
        external_id=row.external_id,
        name=f["name"],
        email=f["email"],
        phone=f["phone"],
        birthday_month=bday and bday.month,
        birthday_day=bday and bday.day,
        birthday_year=bday and bday.year,
        locale=f["locale"],
        joined_at=joined,
        email_consent_at=joined if f["email_consent"] else None,
        sms_consent_at=joined if f["sms_consent"] else None,
        consent_source="import" if f["email_consent"] or f["sms_consent"] else "",
    )
    new_card(member, now=now, key=key)
    return member


def _by_member(rows: list[_VisitRow]) -> dict[str, list[_VisitRow]]:
    groups: dict[str, list[_VisitRow]] = {}
    for row in sorted(rows, key=lambda r: (r.external_id, r.at)):
        groups.setdefault(row.external_id, []).append(row)
    return groups


def _apply_visits(member: Member, visits: list[_VisitRow], program, box) -> tuple[int, int]:
    """Record new visits in time order and stamp the card; returns (visits, vouchers) added."""
    keys = [f"import:{member.external_id}:{to_micros(v.at)}" for v in visits]
    existing = {
        k for (k,) in Visit.select(Visit.import_key).where(Visit.import_key.in_(keys)).tuples()
    }
    member = Member.get_by_id(member.id)
    added = issued = 0
    for visit, key in zip(visits, keys, strict=True):
        if key in existing:
            continue
        Visit.create(
            member=member,
            at=visit.at,
            stamps=visit.stamps,
            source="import",
            amount_cents=visit.amount_cents,
            import_key=key,
        )
        member.stamps, member.rounds, unlocked = advance(
            member.stamps, member.rounds, visit.stamps, program.tiers
        )
        for rnd, tier in unlocked:
            issue_voucher_sql(
                database.obj,
                box.code_key,
                member.id,
                "tier",
                tier.reward,
                visit.at,
                visit.at + timedelta(days=program.voucher_days),
                f"tier:{member.id}:{rnd}:{tier.stamps}",
            )
            issued += 1
        if visit.stamps:
            member.last_stamp_at = max(filter(None, [member.last_stamp_at, visit.at]))
        member.visit_count += 1
        member.first_visit_at = min(filter(None, [member.first_visit_at, visit.at]))
        member.last_visit_at = max(filter(None, [member.last_visit_at, visit.at]))
        member.spend_cents += visit.amount_cents or 0
        added += 1
    if added:
        member.save()
    return added, issued
