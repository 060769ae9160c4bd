"""The web app: factory, owner login, CSRF, the session cookie and errors as sentences.

Helpers here (`make_app`, `csrf_token`, `log_in`) are shared by the other test_web_* modules.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from web import create_app

_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def make_app(settings, **config):
    """The real app on the test's data folder; config may say dev_mode=True."""
    dev_mode = config.pop("dev_mode", False)
    settings = dataclasses.replace(settings, dev_mode=dev_mode)
    return create_app({"STAMPBOX_SETTINGS": settings, "TESTING": True, **config})


def csrf_token(response) -> str:
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


# (data folder, username, given password) -> the password log_in chose in its place
_CHOSEN: dict[tuple, str] = {}


def chosen_password(given: str) -> str:
    """What log_in picks when an account must replace the password it was given."""
    return given + "-Mine-2026"


def log_in(client, password, username="owner"):
    """Log in; an account that must change its given password does so once (the change's
    redirect is returned, as the login's would be), and later calls use the chosen one."""
    key = (str(client.application.config["STAMPBOX_SETTINGS"].data_dir), username, password)
    password = _CHOSEN.get(key, password)
    token = csrf_token(client.get("/login"))
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    if response.status_code == 302 and response.location.startswith("/account/password"):
        new = chosen_password(password)
        form = {"current": password, "new": new, "confirm": new}
        form["csrf_token"] = csrf_token(client.get(response.location))
        response = client.post(response.location, data=form)
        assert response.status_code == 302, "log_in could not choose a new password"
        _CHOSEN[key] = new
    return response


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def password(init_info):
    return init_info["owner"]["password"]


def test_counter_screen_sends_visitors_to_the_login_page(client):
    response = client.get("/counter")
    assert response.status_code == 302
    assert response.location == "/login?next=/counter"


def test_owner_logs_in_with_the_generated_password(client, password):
    response = log_in(client, password)
    assert response.status_code == 302
    assert response.location == "/counter"
    page = client.get("/counter")
    assert page.status_code == 200
    assert "Waiting for a tap" in page.get_data(as_text=True)


def test_a_wrong_password_is_refused_with_a_sentence(client, password):
    response = log_in(client, password + "x")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/counter").status_code == 302


def test_an_unknown_user_is_refused_like_a_wrong_password(client, password):
    response = log_in(client, password, username="nobody")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(client, password):
    response = client.post("/login", data={"username": "owner", "password": password})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Reload the page and try again" in text
    assert "Traceback" not in text
    assert client.get("/counter").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite_lax(client, password):
    response = log_in(client, password)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("stampbox_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(client, password):
    log_in(client, password)  # the one-time password is replaced first
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/counter"))})
    token = csrf_token(client.get("/login"))
    data = {"username": "owner", "password": chosen_password(password), "csrf_token": token}
    assert client.post("/login?next=/counter", data=data).location == "/counter"
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/counter"))})
    token = csrf_token(client.get("/login"))
    data["csrf_token"] = token
    response = client.post("/login?next=https://evil.example/", data=data)
    assert response.location == "/counter"


def test_logout_ends_the_session(client, password):
    log_in(client, password)
    token = csrf_token(client.get("/counter"))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.location == "/login"
    assert client.get("/counter").status_code == 302


def test_the_same_data_folder_gives_the_same_session_key(settings, init_info, password):
    # every gunicorn worker builds its own app: a cookie from one must work on the others
    first, second = make_app(settings), make_app(settings)
    client = first.test_client()
    log_in(client, password)
    cookie = client.get_cookie("stampbox_session")
    other = second.test_client()
    other.set_cookie("stampbox_session", cookie.value)
    assert other.get("/counter").status_code == 200


def test_an_unknown_page_is_a_sentence(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "There is no page at this address" in response.get_data(as_text=True)


def test_a_server_error_is_a_sentence_without_a_trace(settings, init_info):
    app = make_app(settings, TESTING=False)

    def broken():
        raise RuntimeError("secret internals")

    app.add_url_rule("/broken", view_func=broken)
    app.logger.disabled = True
    response = app.test_client().get("/broken")
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on the box" in text
    assert "secret internals" not in text and "Traceback" not in text


def test_the_root_address_opens_the_counter(client):
    assert client.get("/").location == "/counter"
