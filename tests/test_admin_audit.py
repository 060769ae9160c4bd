"""Every change staff make through the admin and the counter is in the audit log, with who."""

from __future__ import annotations

import io

from appliance.members import add_member
from appliance.models import AuditLog, StaffUser, Voucher
from appliance.voucher_admin import issue_manual_voucher

from .conftest import T0
from .test_web import csrf_token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _code(reward: str) -> str:
    return Voucher.get(Voucher.reward == reward).code


def test_every_change_through_the_pages_is_audited_with_its_author(owner, box):
    anna = add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)["id"]
    bob = add_member("Bob", card_uid="04000000000001", now=T0)["id"]
    issue_manual_voucher(anna, "Free tea", 30, actor="setup")
    bea = lambda: StaffUser.get(StaffUser.username == "bea").id  # noqa: E731
    steps = [
        ("/admin/staff", {"username": "bea", "password": "given-by-owner-1", "role": "staff"}),
        (lambda: f"/admin/staff/{bea()}/password", {"password": "reset-by-owner-2"}),
        ("/admin/devices", {"name": "pos-1"}),
        ("/admin/devices/revoke", {"name": "pos-1"}),
        ("/admin/program", {"tiers": "5:Free cookie\n10:Free coffee", "voucher_days": "60"}),
        ("/admin/settings", {"shop_name": "Café", "currency": "EUR", "language": "en",
                             "timezone": "Europe/Berlin", "privacy_text": "We keep little."}),
        ("/admin/settings/logo", {"logo": (io.BytesIO(PNG), "logo.png")}),
        (f"/admin/members/{anna}/vouchers", {"reward": "Free cake", "days": "30"}),
        ("/admin/vouchers/void", lambda: {"code": _code("Free cake")}),
        ("/counter/redeem", lambda: {"code": _code("Free tea")}),
        ("/admin/enrolment-slip", {"nfc_uid": "04000000000077"}),
        (f"/admin/members/{anna}/replace-card", {"nfc_uid": "04000000000009"}),
        (f"/admin/members/{anna}/merge", {"other_id": str(bob)}),
        (f"/admin/members/{anna}/export.json", None),
        (f"/admin/members/{anna}/erase", {"confirm": "erase"}),
        (lambda: f"/admin/staff/{bea()}/delete", {}),
    ]  # fmt: skip
    token = csrf_token(owner.get("/admin/staff"))
    for url, data in steps:
        url = url() if callable(url) else url
        before = AuditLog.select().count()
        if data is None:
            response = owner.get(url)
        else:
            data = data() if callable(data) else data
            response = owner.post(url, data={**data, "csrf_token": token})
        assert response.status_code in (200, 302), (url, response.status_code)
        new = list(AuditLog.select().where(AuditLog.id > before).order_by(AuditLog.id))
        assert new, f"{url} changed data without an audit row"
        assert {row.actor for row in new} == {"owner"}, url


def test_the_owner_reads_the_audit_log_newest_first(owner, box):
    add_member("Anna <b>", card_uid="04A23B4C5D6E7F", actor="owner", now=T0)
    page = owner.get("/admin/audit").get_data(as_text=True)
    assert "member.add" in page and "staff.password_change" in page
    assert "Anna <b>" not in page  # names in details are escaped like everything else
    assert page.index("member.add") < page.index("staff.password_change")
