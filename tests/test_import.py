"""CSV import: all or nothing, the first bad row named, and a second import adds nothing."""

from datetime import timedelta

import pytest

from appliance.counter import handle
from appliance.importer import CsvImportError, import_files
from appliance.models import Member, Visit, Voucher

from .conftest import T0

MEMBERS = """external_id,name,email,phone,birthday,joined_at,locale,email_consent,sms_consent
p-1,Anna Berg,anna@example.com,+49 170 1234567,03-14,2024-05-01T10:00:00Z,de,yes,no
p-2,Bob,,,1990-07-02,2025-01-10T08:00:00+01:00,en,no,yes
p-3,Chloé,,,,,,,
"""
VISITS = """member_external_id,at,amount,stamps
p-1,2026-11-01T09:00:00Z,4.50,1
p-1,2026-11-02T09:00:00Z,,9
p-2,2026-01-05T09:00:00Z,3.20,10
p-2,2026-11-20T09:00:00Z,12,2
"""


def write(tmp_path, members=MEMBERS, visits=VISITS):
    m, v = tmp_path / "members.csv", tmp_path / "visits.csv"
    m.write_text(members, encoding="utf-8")
    v.write_text(visits, encoding="utf-8")
    return m, v


def test_import_creates_members_visits_and_stamp_cards(box, tmp_path):
    report = import_files(*write(tmp_path), now=T0)
    assert report == {
        "members_added": 3,
        "members_skipped": 0,
        "visits_added": 4,
        "visits_skipped": 0,
        "vouchers_issued": 2,
    }
    anna = Member.get(Member.external_id == "p-1")
    assert (anna.name, anna.birthday_month, anna.birthday_day) == ("Anna Berg", 3, 14)
    assert anna.email_consent_at is not None and anna.sms_consent_at is None
    assert anna.visit_count == 2 and anna.spend_cents == 450 and anna.stamps == 0
    bob = Member.get(Member.external_id == "p-2")
    assert bob.birthday_year == 1990 and bob.stamps == 2 and bob.spend_cents == 1520
    assert bob.joined_at.isoformat() == "2025-01-10T07:00:00+00:00"
    # Bob's reward from January expired in April; Anna's from November is still usable
    anna_code = anna.cards[0].code
    assert [v["reward"] for v in handle(anna_code, "t", now=T0).vouchers] == ["Free coffee"]
    assert handle(bob.cards[0].code, "t", now=T0).vouchers == []


def test_importing_the_same_files_twice_adds_nothing(box, tmp_path):
    files = write(tmp_path)
    import_files(*files, now=T0)
    counts = (Member.select().count(), Visit.select().count(), Voucher.select().count())
    report = import_files(*files, now=T0 + timedelta(days=1))
    assert report == {
        "members_added": 0,
        "members_skipped": 3,
        "visits_added": 0,
        "visits_skipped": 4,
        "vouchers_issued": 0,
    }
    assert (Member.select().count(), Visit.select().count(), Voucher.select().count()) == counts


def test_a_later_file_adds_only_its_new_rows(box, tmp_path):
    import_files(*write(tmp_path), now=T0)
    more = VISITS + "p-3,2026-11-21T09:00:00Z,2.00,1\n"
    report = import_files(*write(tmp_path, visits=more), now=T0)
    assert report["visits_added"] == 1 and report["visits_skipped"] == 4
    assert Member.get(Member.external_id == "p-3").stamps == 1


@pytest.mark.parametrize(
    ("members", "visits", "message"),
    [
        (MEMBERS.replace("03-14", "13-45"), VISITS, "members.csv line 2: Birthday '13-45'"),
        (MEMBERS.replace("anna@example.com", "anna-at-example"), VISITS, "members.csv line 2"),
        (MEMBERS.replace(",no,yes", ",no,perhaps"), VISITS, "line 3: sms_consent"),
        (MEMBERS + "p-1,Dup,,,,,,,\n", VISITS, "line 5: external_id 'p-1' repeats line 2"),
        (MEMBERS.replace("external_id,", "id,", 1), VISITS, "header lacks external_id"),
        (MEMBERS, VISITS + "p-9,2026-11-01T09:00:00Z,,1\n", "visits.csv line 6: no member"),
        (MEMBERS, VISITS.replace("4.50", "four"), "visits.csv line 2: amount"),
        (MEMBERS, VISITS.replace(",12,2", ",12,99"), "visits.csv line 5: stamps"),
        (MEMBERS, VISITS.replace("2026-11-01T09", "01/11/2026 9"), "visits.csv line 2: at"),
        (MEMBERS, VISITS + "p-1,2026-11-01T09:00:00Z,,1\n", "repeats the visit on line 2"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_imported(box, tmp_path, members, visits, message):
    with pytest.raises(CsvImportError) as err:
        import_files(*write(tmp_path, members, visits), now=T0)
    assert message in str(err.value)
    assert Member.select().count() == 0 and Visit.select().count() == 0


def test_the_cli_reports_the_bad_row_and_exits_2(box, tmp_path, stampbox):
    files = write(tmp_path, visits=VISITS.replace("4.50", "x"))
    proc = stampbox("import", *map(str, files))
    assert proc.returncode == 2 and "visits.csv line 2" in proc.stderr
    ok = stampbox("import", *map(str, write(tmp_path)), "--json")
    assert ok.returncode == 0 and '"members_added": 3' in ok.stdout
