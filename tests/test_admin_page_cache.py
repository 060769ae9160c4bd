"""What the admin keeps between requests (bench/README.md, issue 9) never leaks across people,
languages or sessions: the cached navigation, the checked session cookie."""

from __future__ import annotations


def _nav(client, path="/admin/members") -> str:
    page = client.get(path).get_data(as_text=True)
    return page[page.index('<nav class="adminnav">') : page.index("</nav>")]


def test_staff_never_get_the_owners_cached_navigation(owner, staff):
    assert 'href="/admin/settings"' in _nav(owner)
    assert 'href="/admin/settings"' not in _nav(staff)
    # and the other way round, once the staff version is kept
    assert 'href="/admin/settings"' in _nav(owner)


def test_the_cached_navigation_follows_each_persons_language(owner, staff):
    english = _nav(staff)
    hebrew = _nav(staff, "/admin/members?lang=he")
    assert hebrew != english and ">Members<" in english and ">Members<" not in hebrew
    assert ">Members<" in _nav(owner)  # the owner still reads English


def test_a_changed_session_cookie_is_refused_after_the_same_cookie_was_accepted(owner):
    assert owner.get("/admin/members").status_code == 200
    cookie = owner.get_cookie("stampbox_session").value
    head, _, signature = cookie.rpartition(".")
    forged = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    owner.set_cookie("stampbox_session", forged)
    assert owner.get("/admin/members").status_code == 302  # to the login page
    owner.set_cookie("stampbox_session", cookie)
    assert owner.get("/admin/members").status_code == 200


def test_a_flashed_message_is_shown_once_though_the_session_was_kept(owner, app):
    with owner.session_transaction() as session:
        session["_flashes"] = [("info", "Saved once.")]
    assert "Saved once." in owner.get("/admin/members").get_data(as_text=True)
    assert "Saved once." not in owner.get("/admin/members").get_data(as_text=True)
