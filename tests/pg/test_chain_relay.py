"""Chain mode end to end on one machine: box SQLite → relay → box JetStream (a leaf) → hub
EVENTS stream → ingest → PostgreSQL, with real nats-server processes and the test cluster.
"""

import time
from datetime import timedelta

import pytest

from appliance.chain import box_id
from appliance.chain.ingest import Ingest
from appliance.chain.relay import Relay
from appliance.counter import handle
from appliance.members import add_member
from appliance.settings import load_settings
from appliance.vouchers import redeem_voucher

from ..conftest import T0

UIDS = [f"04A23B4C5D6E{i:02X}" for i in range(8)]
E = 2 * len(UIDS)  # each enrolment's member and card events


BOXES_ON_SQLITE = True  # only the centre is on PostgreSQL (conftest)


@pytest.fixture
def relay(box, box_nats):
    relay = Relay(box.db, box_nats.url)
    relay.initialize()
    yield relay
    relay.shutdown()


def _ingest(hub_db, hub_nats, box, ack_wait=30.0):
    ingest = Ingest(hub_db, hub_nats.url, ack_wait=ack_wait)
    ingest.initialize([box_id(box.db)])
    return ingest


def _count(db, table):
    return db.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _drain(ingest, hub_db, table, want, limit=60.0):
    """Run the ingest until the hub has `want` rows (the source catches up on its own time)."""
    deadline = time.monotonic() + limit
    while _count(hub_db, table) < want and time.monotonic() < deadline:
        ingest.loop(timeout=0.5)
    return _count(hub_db, table)


def _taps(n, start=T0):
    for uid in UIDS:
        add_member("M", card_uid=uid, now=start)
    for i in range(n):
        handle(UIDS[i % len(UIDS)], "t", now=start + timedelta(hours=i))


def _unsent(box):
    return box.db.execute_sql("SELECT COUNT(*) FROM event WHERE sent_at IS NULL").fetchone()[0]


def test_stamps_and_redemptions_reach_postgresql_once(box, relay, hub_db, hub_nats):
    _taps(20)
    code = handle(UIDS[0], "t", stamps=10, now=T0 + timedelta(days=2)).unlocked[0]["code"]
    assert redeem_voucher(code, now=T0 + timedelta(days=3)).status == "redeemed"
    assert relay.loop() == 22 + E and _unsent(box) == 0
    ingest = _ingest(hub_db, hub_nats, box)
    try:
        assert _drain(ingest, hub_db, "chain_redemption", 1) == 1
        assert _drain(ingest, hub_db, "chain_visit", 21) == 21
    finally:
        ingest.shutdown()
    assert _count(hub_db, "chain_inbox") == 22 + E
    assert _count(hub_db, "chain_member") == len(UIDS)
    assert _count(hub_db, "chain_card") == len(UIDS)
    stamps = hub_db.execute_sql("SELECT SUM(stamps) FROM chain_visit").fetchone()[0]
    assert stamps == box.db.execute_sql("SELECT SUM(stamps) FROM visit").fetchone()[0]
    row = hub_db.execute_sql("SELECT code, reward FROM chain_voucher").fetchone()
    assert row[0] == code.replace("-", "")
    assert ingest.stats.applied == 22 + E and ingest.stats.absorbed == 0


def test_a_relay_killed_between_the_ack_and_the_mark_republishes_deduplicated(
    box, relay, hub_db, hub_nats, box_nats
):
    _taps(12)
    acked = relay.publish(relay.pending())
    assert len(acked) == 12 + E
    relay.shutdown()  # gone before relay.mark(): every row is still unsent
    assert _unsent(box) == 12 + E
    again = Relay(box.db, box_nats.url)
    again.initialize()
    try:
        assert again.loop() == 12 + E
        assert again.stats.duplicates == 12 + E  # the box's stream knew every Nats-Msg-Id
    finally:
        again.shutdown()
    relay.shutdown = lambda: None  # the fixture's teardown: already closed
    assert _unsent(box) == 0
    ingest = _ingest(hub_db, hub_nats, box)
    try:
        assert _drain(ingest, hub_db, "chain_visit", 12) == 12
        ingest.loop(timeout=1.0)  # nothing more arrives
    finally:
        ingest.shutdown()
    assert _count(hub_db, "chain_visit") == _count(hub_db, "chain_inbox") - E == 12


def test_an_ingest_killed_between_the_commit_and_the_ack_is_absorbed(box, relay, hub_db, hub_nats):
    _taps(10)
    relay.loop()
    first = _ingest(hub_db, hub_nats, box, ack_wait=1.0)
    msgs = []
    deadline = time.monotonic() + 60
    while len(msgs) < 10 + E and time.monotonic() < deadline:
        msgs += first.fetch(timeout=0.5)
    assert len(first.apply(msgs)) == 10 + E  # committed ...
    first.shutdown()  # ... and gone before acking
    assert _count(hub_db, "chain_visit") == 10
    second = _ingest(hub_db, hub_nats, box, ack_wait=1.0)
    try:
        deadline = time.monotonic() + 60
        while second.stats.absorbed < 10 + E and time.monotonic() < deadline:
            second.loop(timeout=0.5)
        assert second.stats.absorbed == 10 + E and second.stats.applied == 0
    finally:
        second.shutdown()
    assert _count(hub_db, "chain_visit") == _count(hub_db, "chain_inbox") - E == 10


@pytest.mark.slow
def test_the_box_keeps_publishing_while_the_hub_is_down_and_the_hub_catches_up(
    box, relay, hub_db, hub_nats
):
    _taps(10)
    relay.loop()
    ingest = _ingest(hub_db, hub_nats, box)
    try:
        assert _drain(ingest, hub_db, "chain_visit", 10) == 10
        hub_nats.kill()  # the centre is cut off hard
        for i in range(15):
            handle(UIDS[i % len(UIDS)], "t", now=T0 + timedelta(days=5, hours=i))
        assert relay.loop() == 15 and _unsent(box) == 0  # the box's own JetStream took them
        ingest.loop(timeout=0.5)  # the hub is gone: nothing, and no error
        hub_nats.start()  # the ingest reconnects and re-attaches the sources at once
        assert _drain(ingest, hub_db, "chain_visit", 25, limit=120) == 25
        # a source may resume a little before where it stopped (seen under load): whatever it
        # sends again is absorbed by the inbox, never applied twice (checked below)
    finally:
        ingest.shutdown()
    assert _count(hub_db, "chain_inbox") == 25 + E
    assert _count(hub_db, "chain_visit") == 25


def _stream_messages(url, name):
    import asyncio

    import nats

    async def count():
        nc = await nats.connect(url)
        try:
            return (await nc.jetstream().stream_info(name)).state.messages
        finally:
            await nc.close()

    return asyncio.run(count())


@pytest.mark.slow
def test_relay_processes_sigkilled_mid_batch_leave_each_event_in_the_stream_once(
    box, cli_env, box_nats, relay
):
    import random
    import signal
    import subprocess
    import sys

    from appliance.chain.relay import stream_name

    from ..conftest import ROOT

    rng = random.Random(7)
    name = stream_name(box_id(box.db))
    for uid in UIDS:
        add_member("M", card_uid=uid, now=T0)
    made = 0
    for _cycle in range(3):
        for _ in range(300):  # taps keep coming between the relay's deaths
            handle(UIDS[made % len(UIDS)], "t", now=T0 + timedelta(hours=made))
            made += 1
        seen = _stream_messages(box_nats.url, name)
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "chain", "relay", "--nats", box_nats.url],
            env=cli_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while _stream_messages(box_nats.url, name) == seen and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.02))  # inside a batch: published, not yet marked
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    while relay.loop():  # a last relay sends what is left
        pass
    assert _unsent(box) == 0
    assert relay.stats.duplicates > 0  # it did resend rows a dead relay had published
    assert _stream_messages(box_nats.url, name) == made + E  # every event once, none lost


def test_three_boxes_feed_one_hub_and_postgresql_counts_every_visit_once(
    tmp_path, pg_url, hub_db, hub_nats
):
    from appliance import box as box_mod
    from appliance.chain.natsbin import NatsServer, box_config
    from appliance.provision import init_box

    from .cluster import free_port

    shops = []
    try:
        for n in range(3):
            init_box(load_settings(environ={}, data_dir=tmp_path / f"shop{n}", timezone="UTC"))
            shop = box_mod.current()
            for uid in UIDS:
                add_member("M", card_uid=uid, now=T0)
            port = free_port()
            config = box_config(tmp_path / f"js{n}", port, box_id(shop.db), hub_nats.leaf_url)
            server = NatsServer(tmp_path / f"nats{n}", config, port).start()
            relay = Relay(shop.db, server.url)
            relay.initialize()
            shops.append((shop, server, relay))
        assert len({box_id(s.db) for s, _, _ in shops}) == 3
        for i in range(30):
            shop, _server, relay = shops[i % 3]
            handle(UIDS[i % len(UIDS)], "t", now=T0 + timedelta(hours=i), box=shop)
            if i % 7 == 0:
                relay.loop()
        for _shop, _server, relay in shops:
            relay.loop()
        ingest = Ingest(hub_db, hub_nats.url)
        ingest.initialize([box_id(s.db) for s, _, _ in shops])
        try:
            assert _drain(ingest, hub_db, "chain_visit", 30) == 30
        finally:
            ingest.shutdown()
        per_box = dict(
            hub_db.execute_sql("SELECT box_id, COUNT(*) FROM chain_visit GROUP BY box_id")
        )
        for shop, _server, _relay in shops:
            visits = shop.db.execute_sql("SELECT COUNT(*) FROM visit").fetchone()[0]
            assert per_box[box_id(shop.db)] == visits == 10
    finally:
        for shop, server, relay in shops:
            relay.shutdown()
            server.stop()
            shop.db.close()
        box_mod.stop()
