"""Staff accounts and security: Argon2, roles per route, login limits, headers, audit."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from appliance.clock import utcnow
from appliance.models import AuditLog, StaffUser
from appliance.staff import (
    MAX_BACKOFF,
    MAX_FAILS_PER_ACCOUNT,
    MAX_FAILS_PER_PAIR,
    backoff,
    create_staff,
    login,
)

from .conftest import T0
from .test_web import csrf_token, log_in


def _owner_rules(app):
    rules = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "owner_only", False):
            rules.append(rule)
    return rules


def _url(rule) -> str:
    values = {name: 1 for name in rule.arguments}
    if "code" in rule.arguments:
        values["code"] = "VXXXXXXXXXXXXXXX"
    return rule.build(values)[1]


def test_passwords_are_hashed_with_argon2(box):
    user = create_staff("anna", "long-enough-pw", "staff", actor="owner")
    assert user.password_hash.startswith("$argon2id$")
    assert login("anna", "long-enough-pw", "10.0.0.1").user.id == user.id


def test_an_old_scrypt_hash_still_works_and_becomes_argon2_at_login(box):
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"old-password", salt=salt, n=2**14, r=8, p=1, dklen=32)
    stored = "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()
    StaffUser.create(username="old", password_hash=stored, role="staff", created_at=T0)
    assert login("old", "wrong", "10.0.0.1").user is None
    assert login("old", "old-password", "10.0.0.1").user is not None
    assert StaffUser.get(StaffUser.username == "old").password_hash.startswith("$argon2id$")
    assert login("old", "old-password", "10.0.0.1").user is not None


def test_guessing_from_one_address_stops_that_address_not_the_owner(box, init_info):
    right = init_info["owner"]["password"]
    for i in range(MAX_FAILS_PER_PAIR):
        assert login("owner", f"guess{i}", "10.0.0.66", now=T0).user is None
    # the guesser's address waits out the window, even with the right password
    blocked = login("owner", right, "10.0.0.66", now=T0 + timedelta(minutes=1))
    assert blocked.throttled and blocked.user is None and blocked.retry_after == 14 * 60
    # the owner at the till is held only by the short account back-off (1 s here)
    assert login("owner", right, "10.0.0.2", now=T0).throttled
    assert login("owner", right, "10.0.0.2", now=T0 + timedelta(seconds=2)).user is not None
    assert login("owner", right, "10.0.0.66", now=T0 + timedelta(minutes=16)).user is not None


def test_guessing_from_many_addresses_backs_off_without_locking_the_owner_out(box, init_info):
    right = init_info["owner"]["password"]
    checked = 0
    # a guess every second for 10 minutes, from a new address each time
    for second in range(10 * 60):
        at = T0 + timedelta(seconds=second)
        result = login("owner", f"guess{second}", f"10.2.{second // 250}.{second % 250}", now=at)
        checked += not result.throttled
    # slowed to about one checked guess a minute once the back-off is at its ceiling
    assert checked <= 20, checked
    assert backoff(checked) == MAX_BACKOFF
    end = T0 + timedelta(minutes=10)
    assert login("owner", right, "10.9.9.9", now=end).throttled
    # a moment later (the back-off, never a lockout) the owner gets in from anywhere
    assert login("owner", right, "10.9.9.9", now=end + MAX_BACKOFF).user is not None
    # and from a browser they logged in from before, at once
    login("owner", "guess-again", "10.3.0.1", now=end + MAX_BACKOFF)
    known = login("owner", right, "10.9.9.8", now=end + MAX_BACKOFF, known_device=True)
    assert known.user is not None


def test_the_owners_own_browser_gets_in_while_someone_guesses(app, init_info):
    owner = app.test_client()
    log_in(owner, init_info["owner"]["password"])
    owner.post("/logout", data={"csrf_token": csrf_token(owner.get("/counter"))})
    now = utcnow()
    for i in range(12):  # a guess a minute up to now, each from another address
        login("owner", f"guess{i}", f"10.4.0.{i}", now=now - timedelta(seconds=61 * (11 - i)))
    stranger = app.test_client()
    refused = log_in(stranger, init_info["owner"]["password"])
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 30
    assert "Too many wrong passwords. Try again in" in refused.get_data(as_text=True)
    assert log_in(owner, init_info["owner"]["password"]).location == "/counter"
    # the cookie that says so is signed: a made-up one is ignored
    stranger.set_cookie("stampbox_known", "WyJvd25lciJd.forged")
    assert log_in(stranger, init_info["owner"]["password"]).status_code == 429


def test_guessing_is_slowed_per_address_across_accounts(box):
    for i in range(20):
        login(f"user{i}", "guess", "10.1.1.1", now=T0)
    assert login("owner", "anything", "10.1.1.1", now=T0).throttled
    assert not login("owner", "anything", "10.1.1.2", now=T0).throttled


def test_the_login_page_answers_429_when_throttled(app, init_info):
    client = app.test_client()
    for _ in range(MAX_FAILS_PER_ACCOUNT):
        assert log_in(client, "wrong-password").status_code == 401
    response = log_in(client, init_info["owner"]["password"])
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.get_data(as_text=True)


def test_every_owner_page_is_refused_to_staff(app, staff, owner):
    rules = _owner_rules(app)
    endpoints = {r.endpoint for r in rules}
    # the list is the app's own: a new owner page is covered without editing this test
    assert {
        "admin.dashboard",
        "admin.staff",
        "admin.devices",
        "admin.audit_log",
        "members.erase",
        "members.export",
        "members.merge",
        "members.vouchers",
    } <= endpoints
    token = csrf_token(staff.get("/counter"))
    for rule in rules:
        url = _url(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = staff.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 403, (method, url)
    # and the owner does reach them (a GET page per rule)
    for rule in rules:
        if "GET" in rule.methods and not rule.arguments:
            assert owner.get(_url(rule)).status_code == 200, rule


def test_staff_may_look_members_up(staff):
    assert staff.get("/admin/members").status_code == 200
    assert staff.get("/counter").status_code == 200


def test_every_response_carries_the_security_headers(app, owner):
    for url in ("/login", "/admin", "/join", "/no-such-page", "/counter"):
        response = owner.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_template_has_inline_script_or_style():
    from .conftest import ROOT

    for path in (ROOT / "web" / "templates").rglob("*.html"):
        text = path.read_text()
        assert "<script>" not in text and "<style" not in text, path
        assert " style=" not in text and "onclick" not in text, path
        assert "<script" not in text or 'src="' in text, path


def test_the_session_cookie_is_secure_over_https(app, init_info):
    client = app.test_client()
    token = csrf_token(client.get("/login", base_url="https://box.local"))
    response = client.post(
        "/login",
        base_url="https://box.local",
        # Flask-WTF checks the Referer on HTTPS (a forged form from another site is refused)
        headers={"Referer": "https://box.local/login"},
        data={"username": "owner", "password": init_info["owner"]["password"], "csrf_token": token},
    )
    cookies = response.headers.getlist("Set-Cookie")
    # the session and the "logged in from this browser before" cookie
    assert {c.split("=", 1)[0] for c in cookies} == {"stampbox_session", "stampbox_known"}
    for cookie in cookies:
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_staff_changes_are_audited_and_shown_to_the_owner(owner):
    token = csrf_token(owner.get("/admin/staff"))
    response = owner.post(
        "/admin/staff",
        data={"username": "bea", "password": "a-long-password", "role": "staff",
              "csrf_token": token},
    )  # fmt: skip
    assert response.status_code == 302
    row = AuditLog.select().order_by(AuditLog.id.desc()).first()
    assert (row.actor, row.action) == ("owner", "staff.create")
    page = owner.get("/admin/audit").get_data(as_text=True)
    assert "staff.create" in page and "bea" in page


def test_an_admin_form_without_csrf_is_refused(owner):
    response = owner.post("/admin/staff", data={"username": "x1", "password": "p" * 12})
    assert response.status_code == 400
    assert not StaffUser.select().where(StaffUser.username == "x1").exists()


def test_the_last_owner_cannot_be_removed(owner):
    token = csrf_token(owner.get("/admin/staff"))
    owner_id = StaffUser.get(StaffUser.username == "owner").id
    owner.post(f"/admin/staff/{owner_id}/delete", data={"csrf_token": token})
    assert StaffUser.select().where(StaffUser.username == "owner").exists()


def test_device_tokens_are_created_and_revoked_in_the_admin(owner):
    token = csrf_token(owner.get("/admin/devices"))
    page = owner.post("/admin/devices", data={"name": "pos-1", "csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "shown only this once" in page and "sbx_" in page
    secret = page.split("sbx_", 1)[1].split("<", 1)[0].strip()
    api = {"Authorization": f"Bearer sbx_{secret}"}
    assert owner.post("/api/v1/counter/tap", json={"token": "04A23B4C5D6E7F"},
                      headers=api).status_code == 200  # fmt: skip
    owner.post("/admin/devices/revoke", data={"name": "pos-1", "csrf_token": token})
    assert owner.post("/api/v1/counter/tap", json={"token": "04A23B4C5D6E7F"},
                      headers=api).status_code == 401  # fmt: skip


def test_behind_the_box_nginx_the_client_address_and_https_are_believed(app, init_info):
    from appliance.models import LoginAttempt

    client = app.test_client()
    proxied = {"X-Forwarded-For": "192.168.1.23", "X-Forwarded-Proto": "https",
               "Referer": "https://localhost/login"}  # fmt: skip
    token = csrf_token(client.get("/login", headers=proxied))
    client.post("/login", headers=proxied,
                data={"username": "owner", "password": "wrong", "csrf_token": token})  # fmt: skip
    assert LoginAttempt.get().address == "192.168.1.23"
    response = client.post(
        "/login",
        headers=proxied,
        data={"username": "owner", "password": init_info["owner"]["password"], "csrf_token": token},
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_client_reaching_gunicorn_directly_cannot_fake_its_address(app):
    from appliance.models import LoginAttempt

    client = app.test_client()
    outside = {"REMOTE_ADDR": "192.168.1.50"}
    token = csrf_token(client.get("/login", environ_base=outside))
    client.post("/login", environ_base=outside, headers={"X-Forwarded-For": "10.9.9.9"},
                data={"username": "owner", "password": "wrong", "csrf_token": token})  # fmt: skip
    assert LoginAttempt.get().address == "192.168.1.50"


# the /admin endpoints staff may use; every other /admin route must be the owner's
# the member page's wallet QR is its own picture: staff see the member page, so they see it
STAFF_MAY = {
    "members.search",
    "members.detail",
    "members.wallet_qr",
    "signup.qr",
    "signup.slip",
}


def test_every_admin_and_counter_route_needs_a_login_and_a_decided_role(app):
    staff_endpoints = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/admin", "/counter")):
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "login_required", False), f"{rule.rule} needs @login_required"
        if rule.rule.startswith("/admin") and not getattr(view, "owner_only", False):
            staff_endpoints.add(rule.endpoint)
    # a new /admin page is refused here until it is made @owner_required or listed above
    assert staff_endpoints == STAFF_MAY


def test_anonymous_visitors_are_sent_to_the_login_from_every_admin_page(app):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/admin", "/counter")) and "GET" in rule.methods:
            response = client.get(_url(rule))
            assert response.status_code == 302, rule.rule
            assert response.location.startswith("/login?next="), rule.rule


def test_the_session_cookie_slides_forward_without_being_resent_on_every_page(owner):
    from web.security import SessionInterface

    owner.get("/admin/members")  # the first page puts the CSRF token in the session
    assert "Set-Cookie" not in owner.get("/admin/members").headers
    cookie = owner.get_cookie("stampbox_session")
    assert cookie.expires is not None  # a permanent session: it ends after inactivity
    assert SessionInterface.REFRESH_AFTER <= timedelta(minutes=10)


def test_pages_load_nothing_from_another_site():
    from .conftest import ROOT

    # the shop may be offline: scripts, styles, fonts and pictures come from /static
    for path in (ROOT / "web" / "templates").rglob("*.html"):
        text = path.read_text()
        for attribute in ('src="http', "src='http", 'src="//', 'href="//', "@import"):
            assert attribute not in text, (path, attribute)
        assert '<link rel="stylesheet" href="http' not in text, path


def test_every_form_route_refuses_a_post_without_its_csrf_token(app, owner):
    """web.extensions.init_csrf looks at the method first: every POST, PUT, PATCH and DELETE
    route that is not exempt (the bearer-token API, Apple's web service, one-click
    unsubscribe) is still checked."""
    from web.errors import CSRF_SENTENCE
    from web.extensions import csrf

    refused = CSRF_SENTENCE.split(".")[0].encode()  # "This form has expired or did not…"
    checked = 0
    for rule in app.url_map.iter_rules():
        methods = rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
        view = app.view_functions[rule.endpoint]
        exempt = (
            app.blueprints.get(rule.endpoint.rpartition(".")[0]) in csrf._exempt_blueprints
            or f"{view.__module__}.{view.__name__}" in csrf._exempt_views
        )
        for method in sorted(methods):
            response = owner.open(_url(rule), method=method, data={"x": "1"})
            if exempt:
                assert refused not in response.data, (method, rule.rule)
            else:
                assert response.status_code == 400, (method, rule.rule, response.status_code)
                assert refused in response.data, (method, rule.rule)
                checked += 1
    assert checked > 40  # the admin's, the counter's and the signup's forms
