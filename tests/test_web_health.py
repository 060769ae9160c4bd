"""/healthz for machines, and the box's status for the owner."""

import pytest

from appliance.staff import create_staff

from .test_web import log_in, make_app


@pytest.fixture
def app(settings, init_info):
    return make_app(settings)


def test_healthz_answers_without_a_login_and_tells_nothing_private(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"ok": True, "database": "ok", "clock_synchronised": True}
    assert "Content-Security-Policy" in response.headers


def test_healthz_is_503_when_the_schema_is_behind(app, box):
    box.db.execute_sql(
        "DELETE FROM schema_version WHERE version = (SELECT MAX(version) FROM schema_version)"
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["ok"] is False


def test_the_full_status_is_for_the_owner_only(app, init_info):
    owner = app.test_client()
    log_in(owner, init_info["owner"]["password"])
    status = owner.get("/admin/status.json")
    assert status.status_code == 200
    assert {"clock", "outbox", "disk", "processes", "last_backup", "ok"} <= status.json.keys()
    create_staff("barista", "long-enough-password", "staff", actor="owner")
    staff = app.test_client()
    log_in(staff, "long-enough-password", username="barista")
    assert staff.get("/admin/status.json").status_code == 403
    assert app.test_client().get("/admin/status.json").status_code in (302, 401, 403)
