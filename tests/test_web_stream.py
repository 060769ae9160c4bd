"""The counter screen's event stream, fed from the durable counter_event log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from appliance.clock import utcnow
from appliance.counter import handle
from appliance.members import add_member
from web import feed

from .test_web import log_in, make_app

UID = "04A23B4C5D6E7F"


@pytest.fixture
def screen(settings, init_info):
    # short-lived responses keep a test that finds no event from hanging
    app = make_app(settings, COUNTER_STREAM_SECONDS=5.0, COUNTER_POLL_SECONDS=0.05)
    client = app.test_client()
    log_in(client, init_info["owner"]["password"])
    return client


def _open(client, **headers):
    response = client.get("/counter/events", headers=headers, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    return response, iter(response.response)


def _next_event(chunks) -> tuple[int, dict]:
    """Read the stream up to its next event; (id, data)."""
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if text.startswith("id: "):
            head, _, data = text.partition("\ndata: ")
            return int(head.split("\n")[0][4:]), json.loads(data)
    raise AssertionError("the stream ended without an event")


def test_the_stream_needs_a_login(settings, init_info):
    client = make_app(settings).test_client()
    assert client.get("/counter/events").status_code == 302


def test_a_tap_made_elsewhere_arrives_on_the_stream(screen):
    add_member("Anna", card_uid=UID)
    response, chunks = _open(screen)
    assert next(chunks).startswith(b"retry:")
    # written by the core while the stream is open, as the bridge would
    result = handle(UID, source="bridge")
    event_id, data = _next_event(chunks)
    response.close()
    assert event_id == data["event_id"] == result.event_id
    assert data["status"] == "stamped"
    assert data["member"]["name"] == "Anna"
    assert data["card"] == {"code": result.card["code"], "stamps": 1, "stamps_needed": 10}
    assert data["source"] == "bridge"


def test_a_tap_from_another_process_arrives_on_the_stream(screen, stampbox):
    add_member("Anna", card_uid=UID)
    response, chunks = _open(screen)
    next(chunks)
    assert stampbox("tap", UID).returncode == 0
    _, data = _next_event(chunks)
    response.close()
    assert (data["status"], data["source"]) == ("stamped", "cli")


def test_a_fresh_screen_gets_the_recent_events_first(settings, init_info):
    app = make_app(settings, COUNTER_BACKLOG=2, COUNTER_STREAM_SECONDS=0.2)
    client = app.test_client()
    log_in(client, init_info["owner"]["password"])
    ids = [handle(f"04A23B4C5D6E{n:02X}", "test").event_id for n in range(3)]
    body = client.get("/counter/events").get_data(as_text=True)
    assert [line for line in body.splitlines() if line.startswith("id:")] == [
        f"id: {i}" for i in ids[1:]
    ]


def test_a_reconnecting_screen_resumes_after_its_last_event(screen):
    first = handle(UID, "test").event_id
    second = handle(UID, "test").event_id
    response, chunks = _open(screen, **{"Last-Event-ID": str(first)})
    event_id, _ = _next_event(chunks)
    response.close()
    assert event_id == second


def test_the_stream_sends_keepalives_while_the_counter_is_quiet(box):
    moments = iter([0.0, 0.0, 1.0, 16.0, 16.0, 31.0])
    chunks = list(
        feed.stream(
            0, seconds=30, poll=0, keepalive=15, clock=lambda: next(moments), sleep=lambda _: None
        )
    )
    assert chunks == ["retry: 1000\n\n", ": keepalive\n\n"]


def test_each_event_names_the_signal_the_bridge_sounds_and_the_backlog_is_a_replay(
    settings, init_info
):
    app = make_app(settings, COUNTER_STREAM_SECONDS=0.3, COUNTER_POLL_SECONDS=0.05)
    client = app.test_client()
    log_in(client, init_info["owner"]["password"])
    add_member("Anna", card_uid=UID)
    handle(UID, "test", stamps=9, now=utcnow() - timedelta(hours=1))
    body = client.get("/counter/events").get_data(as_text=True)
    (old,) = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")
              and '"event_id"' in line]  # fmt: skip
    assert (old["signal"], old["replay"]) == ("stamped", True)
    response, chunks = _open(client, **{"Last-Event-ID": str(old["event_id"])})
    handle(UID, "test")  # the tenth stamp: a reward
    _, new = _next_event(chunks)
    response.close()
    assert new["signal"] == "reward" and "replay" not in new
