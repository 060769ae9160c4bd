"""A password someone else gave (the setup slip's one-time password, one an owner or the CLI
set) is replaced by the account's own at its first login, before any staff page opens."""

from __future__ import annotations

import json

import pytest

from appliance.models import AuditLog, StaffUser
from appliance.staff import (
    MAX_FAILS_PER_ACCOUNT,
    create_device_token,
    create_staff,
    login,
    password_problem,
)

from .test_web import csrf_token, log_in

NEW = "tall-oak-coffee-17"


@pytest.fixture
def one_time(init_info):
    return init_info["owner"]["password"]


def _login_form(client, password, username="owner", next_=""):
    token = csrf_token(client.get("/login"))
    url = "/login" + (f"?next={next_}" if next_ else "")
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post(url, data=data)


def _change(client, current, new, confirm=None, url="/account/password"):
    token = csrf_token(client.get(url))
    data = {"current": current, "new": new, "confirm": confirm or new, "csrf_token": token}
    return client.post(url, data=data)


def test_the_first_boot_owner_is_flagged_to_choose_a_password(init_info):
    assert StaffUser.get(StaffUser.username == "owner").must_change_password


def test_after_the_one_time_password_every_staff_page_leads_to_the_change(app, one_time):
    client = app.test_client()
    response = _login_form(client, one_time, next_="/admin/members")
    assert response.location == "/account/password?next=/admin/members"
    for url in ("/counter", "/admin", "/admin/members", "/admin/staff", "/admin/signup-qr"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.location.startswith("/account/password?next="), url
    page = client.get("/account/password")
    assert page.status_code == 200
    assert "Choose your password" in page.get_data(as_text=True)
    # a form elsewhere is not processed either
    token = csrf_token(page)
    assert client.post("/admin/staff", data={"csrf_token": token}).status_code == 302
    # log out stays possible
    assert client.post("/logout", data={"csrf_token": token}).location == "/login"
    assert client.get("/account/password").location.startswith("/login")


def test_device_tokens_are_not_held_up_by_the_change(app, box, one_time):
    client = app.test_client()
    _login_form(client, one_time)
    token = create_device_token("pos-1")
    response = client.post(
        "/api/v1/counter/tap",
        json={"token": "04A23B4C5D6E7F"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200


def test_the_chosen_password_replaces_the_one_time_one_and_is_audited(app, one_time):
    client = app.test_client()
    _login_form(client, one_time, next_="/admin/members")
    response = _change(client, one_time, NEW, url="/account/password?next=/admin/members")
    assert response.location == "/admin/members"
    assert client.get("/admin").status_code == 200
    assert not StaffUser.get(StaffUser.username == "owner").must_change_password
    row = AuditLog.get(AuditLog.action == "staff.password_change")
    assert row.actor == "owner" and json.loads(row.detail)["first_login"] is True
    assert NEW not in row.detail and one_time not in row.detail
    assert login("owner", one_time, "10.0.0.1").user is None
    assert login("owner", NEW, "10.0.0.1").user is not None


@pytest.mark.parametrize(
    ("new", "confirm", "says"),
    [
        (None, None, "must differ"),
        ("short1", None, "at least 10 characters"),
        ("aaaaabbbbbaaaaa", None, "5 different characters"),
        ("1234567890", None, "run of keys"),
        ("qwertyuiop", None, "run of keys"),
        ("owner-is-me-2026", None, "username"),
        (NEW, NEW + "x", "two new passwords differ"),
    ],
)
def test_a_weak_or_unchanged_new_password_is_refused(app, one_time, new, confirm, says):
    client = app.test_client()
    _login_form(client, one_time)
    response = _change(client, one_time, new or one_time, confirm)
    assert response.status_code == 400
    assert says in response.get_data(as_text=True)
    assert StaffUser.get(StaffUser.username == "owner").must_change_password
    assert client.get("/counter").location.startswith("/account/password")


def test_a_wrong_current_password_counts_as_a_failed_login(app, one_time):
    client = app.test_client()
    _login_form(client, one_time)
    for _ in range(MAX_FAILS_PER_ACCOUNT):
        response = _change(client, "not-the-password", NEW)
        assert "current password is not right" in response.get_data(as_text=True)
    response = _change(client, one_time, NEW)
    assert "Too many wrong passwords" in response.get_data(as_text=True)
    assert StaffUser.get(StaffUser.username == "owner").must_change_password


def test_accounts_an_owner_creates_or_resets_must_change_but_not_the_owners_own(app, one_time):
    owner = app.test_client()
    log_in(owner, one_time)
    token = csrf_token(owner.get("/admin/staff"))
    form = {"username": "bea", "password": "given-by-owner-1", "role": "staff"}
    owner.post("/admin/staff", data={**form, "csrf_token": token})
    bea = StaffUser.get(StaffUser.username == "bea")
    assert bea.must_change_password
    barista = app.test_client()
    assert _login_form(barista, "given-by-owner-1", "bea").location.startswith("/account/pass")
    assert _change(barista, "given-by-owner-1", "picks-this-one-1").location == "/counter"
    assert barista.get("/admin/members").status_code == 200
    # the owner resets it: chosen anew at the next login
    owner.post(f"/admin/staff/{bea.id}/password", data={"password": "reset-by-owner-2",
               "csrf_token": token})  # fmt: skip
    assert StaffUser.get_by_id(bea.id).must_change_password
    assert barista.get("/admin/members").location.startswith("/account/password")
    # the owner's own password, set on the staff page, is theirs
    me = StaffUser.get(StaffUser.username == "owner")
    owner.post(f"/admin/staff/{me.id}/password", data={"password": "owner-sets-own-3",
               "csrf_token": token})  # fmt: skip
    assert not StaffUser.get_by_id(me.id).must_change_password


def test_anyone_may_change_their_own_password_later(app, box):
    create_staff("cam", "cam-first-pass-1", "staff", actor="owner", must_change=False)
    client = app.test_client()
    assert _login_form(client, "cam-first-pass-1", "cam").location == "/counter"
    assert client.get("/account/password").status_code == 200
    assert _change(client, "cam-first-pass-1", "second-pass-22").location == "/counter"
    assert login("cam", "second-pass-22", "10.0.0.1").user is not None


def test_password_strength_rules_accept_a_passphrase():
    assert password_problem("tall-oak-coffee-17", "owner") is None
    assert password_problem("correct horse battery staple") is None
    assert password_problem("Password1!") is not None


def test_passwords_from_the_command_line_are_changed_at_first_login(init_info, stampbox):
    added = json.loads(stampbox("staff", "add", "dana", "--json").stdout)
    assert added["password"]
    reset = stampbox("staff", "reset-password", "owner", "--json")
    assert reset.returncode == 0, reset.stderr
    flags = {u.username: u.must_change_password for u in StaffUser.select()}
    assert flags == {"owner": True, "dana": True}
