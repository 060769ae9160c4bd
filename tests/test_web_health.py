"""/healthz for machines, and the box's status for the owner."""

from appliance.staff import create_staff

from .test_web import log_in, make_app


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


def test_the_owner_reads_the_status_as_a_page(app, init_info, box):
    from datetime import timedelta

    from appliance.backup import take_backup
    from appliance.clock import utcnow
    from appliance.counter import handle
    from appliance.heartbeat import beat
    from appliance.members import add_member

    owner = app.test_client()
    log_in(owner, init_info["owner"]["password"])
    page = owner.get("/admin/status").get_data(as_text=True)
    # nothing but the web has run: the worker and the bridge are flagged, no backup yet
    assert "The box needs attention" in page
    assert '<tr class="process process-web">' in page
    assert '<tr class="process process-worker alert">' in page
    assert '<tr class="backup alert">' in page and '<tr class="clock">' in page
    assert "Jobs in the queue" in page and "Free disk space" in page
    assert '<tr class="chain' not in page  # a box on its own has no chain line
    assert owner.get("/admin/status.json").json["processes"]["web"]["alive"] is True

    add_member("<b>Anna</b>", card_uid="04A23B4C5D6E7F")
    handle("04A23B4C5D6E7F", "t", stamps=10, now=utcnow() - timedelta(hours=5))
    take_backup(box.settings)
    for process in ("worker", "bridge"):
        beat(box.settings, process)
    page = owner.get("/admin/status").get_data(as_text=True)
    assert "Everything is running." in page and "alert" not in page
    waiting = page.split('<tr class="outbox">')[1].split("</tr>")[0]
    assert "<td>1</td>" in waiting and "minutes overdue" in waiting
    assert "Status" in owner.get("/admin/birthdays").get_data(as_text=True)  # the nav link


def test_the_status_page_is_the_owners(app):
    create_staff("barista", "long-enough-password", "staff", actor="owner")
    staff = app.test_client()
    log_in(staff, "long-enough-password", username="barista")
    assert staff.get("/admin/status").status_code == 403
    assert "/admin/status" not in staff.get("/counter").get_data(as_text=True)
    visitor = app.test_client().get("/admin/status")
    assert visitor.status_code == 302 and "/login" in visitor.location


def test_the_status_page_shows_the_chains_sync_state_in_chain_mode(settings, init_info):
    import dataclasses

    from appliance.counter import handle
    from appliance.members import add_member

    chained = dataclasses.replace(settings, chain_nats_url="nats://127.0.0.1:4222")
    owner = make_app(chained).test_client()
    log_in(owner, init_info["owner"]["password"])
    add_member("Anna", card_uid="04A23B4C5D6E7F")
    handle("04A23B4C5D6E7F", "t")
    row = owner.get("/admin/status").text.split('<tr class="chain">')[1].split("</tr>")[0]
    # the tap (and, as the chain records them, the enrolment) wait for the relay
    waiting = int(row.split("<td>")[1].split(" events waiting to be sent")[0])
    assert waiting >= 1 and "no answer from the centre yet" in row
