"""Erasure in a chain: a member erased in shop A is erased at the centre and in shop B too,
while every shop's visit counts stay (real nats-servers, PostgreSQL)."""

import asyncio
from datetime import timedelta

from appliance.chain.relay import STREAM_MAX_AGE_S, member_subjects, stream_name
from appliance.counter import handle
from appliance.member_rights import erase_member
from appliance.members import add_member

from ..conftest import T0

UID = "04A23B4C5D6E7F"
PERSONAL = ("Anna Example", "anna@example.org", "+15550100", UID)


BOXES_ON_SQLITE = True  # only the centre is on PostgreSQL (conftest)


def _rows_text(db, tables) -> str:
    """Every row of these tables as one text, to look for personal data in."""
    text = []
    for table in tables:
        text.extend(str(row) for row in db.execute_sql(f"SELECT * FROM {table}").fetchall())
    return "\n".join(text)


def _stream_info(url: str, stream: str):
    import nats

    async def look():
        nc = await nats.connect(url)
        try:
            return await nc.jetstream().stream_info(stream, subjects_filter=">")
        finally:
            await nc.close()

    return asyncio.run(look())


def _stream_subjects(url: str, stream: str) -> dict:
    """The subjects a stream holds messages on, with their counts."""
    return dict(_stream_info(url, stream).state.subjects or {})


def _remote_member(shop, code):
    return shop.box.db.execute_sql(
        "SELECT m.id, m.name, m.visit_count, m.stamps FROM card c"
        " JOIN member m ON m.id = c.member_id WHERE c.code = ?",
        (code,),
    ).fetchone()


HUB_TABLES = ("chain_member", "chain_card", "chain_visit", "chain_voucher", "chain_inbox")
BOX_TABLES = ("member", "card", "event", "counter_event", "chain_card_state", "voucher")


def test_a_member_erased_in_one_shop_is_erased_at_the_centre_and_in_the_other_shop(chain):
    a, b = chain.shops
    a.use()
    anna = add_member(
        "Anna Example", email="anna@example.org", phone="+15550100", card_uid=UID, now=T0
    )
    code = anna["cards"][0]["code"].replace("-", "")
    for i in range(2):
        assert handle(UID, "t", now=T0 + timedelta(hours=i + 1), box=a.box).status == "stamped"
    assert chain.settle(lambda: (_remote_member(b, code) or (0, "", 0))[2] == 2)
    b_member = _remote_member(b, code)[0]
    assert _remote_member(b, code)[1] == "Anna Example"
    # a stamp in B on A's card: B's own visit, which stays counted after the erasure
    assert handle(UID, "t", now=T0 + timedelta(hours=5), box=b.box).status == "stamped"
    add_member("Bob Other", email="bob@example.org", now=T0)  # a.use() is current
    assert chain.settle(lambda: chain.hub_count("SELECT COUNT(*) FROM chain_visit") == 3)
    assert chain.settle(lambda: chain.hub_count("SELECT COUNT(*) FROM chain_member") == 2)
    assert "anna@example.org" in _rows_text(chain.hub_db, ("chain_member",))

    prefix, suffix = member_subjects(a.id, anna["id"]).split("*")

    def annas(held):
        return [s for s in held if s.startswith(prefix) and s.endswith(suffix)]

    assert len(annas(_stream_subjects(chain.hub_nats.url, "EVENTS"))) >= 2  # member, stamp
    a.use()
    erase_member(anna["id"], "owner", now=T0 + timedelta(days=1))

    def erased_everywhere():
        return _remote_member(b, code) is None and "Anna" not in _rows_text(
            chain.hub_db, HUB_TABLES
        )

    assert chain.settle(erased_everywhere)
    chain.settle(lambda: False, limit=1.0)  # any late state must not bring anything back
    for db, tables in ((chain.hub_db, HUB_TABLES), (a.box.db, BOX_TABLES), (b.box.db, BOX_TABLES)):
        text = _rows_text(db, tables)
        for personal in PERSONAL:
            assert personal not in text
    # the centre's EVENTS stream no longer holds A's messages about her
    held = _stream_subjects(chain.hub_nats.url, "EVENTS")
    assert annas(held) == []
    b_prefix, b_suffix = member_subjects(b.id, b_member).split("*")
    assert not [s for s in held if s.startswith(b_prefix) and s.endswith(b_suffix)]
    assert held  # others' messages stay
    # A's own stream lost them too, once the centre had them (B's copy waits for the age limit)
    assert chain.settle(lambda: annas(_stream_subjects(a.server.url, stream_name(a.id))) == [])
    assert _stream_subjects(a.server.url, stream_name(a.id))  # Bob's stay
    # and what no purge reaches goes with the stream's age limit, as on the boxes' streams
    assert _stream_info(chain.hub_nats.url, "EVENTS").config.max_age == STREAM_MAX_AGE_S
    assert "bob@example.org" in _rows_text(chain.hub_db, ("chain_member",))
    # the counts stay: the centre's visits, and each shop's member rows with their counters
    assert chain.hub_count("SELECT COUNT(*) FROM chain_visit") == 3
    assert a.count(f"SELECT visit_count FROM member WHERE id = {anna['id']}") == 3
    assert b.count(f"SELECT visit_count FROM member WHERE id = {b_member}") == 3
    assert b.count(f"SELECT COUNT(*) FROM member WHERE id = {b_member} AND erased_at IS NOT NULL")
    assert a.count("SELECT COUNT(*) FROM visit") == 2 and b.count("SELECT COUNT(*) FROM visit") == 1
    assert a.count("SELECT COUNT(*) FROM chain_card_state") == 0
    # B tells nobody: what it erased on the centre's word writes no event of its own
    assert b.count("SELECT COUNT(*) FROM event WHERE type IN ('member', 'erase')") == 0


def test_events_from_before_an_erasure_arriving_late_bring_nothing_back(hub_db):
    from appliance.chain.ingest import apply_event

    def event(n, type_, payload, box="shop-a"):
        return {"id": f"00000000-0000-4000-8000-{n:012d}", "box": box, "type": type_,
                "created_at": n, "payload": payload}  # fmt: skip

    anna = {"id": 1, "name": "Anna Example", "email": "anna@example.org", "erased_at": None}
    stamp = {
        "card": "CARD0001", "nfc_uid": UID, "member": {"id": 1, "name": "Anna Example"},
        "at": 1, "stamps": 1, "amount_cents": None, "source": "t", "clock_synced": True,
        "vouchers": [],
    }  # fmt: skip
    with hub_db.atomic():
        apply_event(hub_db, event(1, "member", {"member": anna}), 1)
        apply_event(hub_db, event(2, "stamp", stamp), 2)
        erase = {"member": {"id": 1}, "cards": ["CARD0001"], "at": 3}
        apply_event(hub_db, event(3, "erase", erase), 3)
        # late: a stamp made in another shop before it knew, and a stale member event
        apply_event(hub_db, event(4, "stamp", stamp | {"at": 2}, box="shop-b"), 4)
        apply_event(hub_db, event(5, "member", {"member": anna}), 5)
    text = _rows_text(hub_db, HUB_TABLES)
    for personal in PERSONAL:
        assert personal not in text
    assert chain_count(hub_db, "SELECT COUNT(*) FROM chain_visit") == 2
    assert chain_count(hub_db, "SELECT COUNT(*) FROM chain_member WHERE erased_at = 3") == 1


def chain_count(db, query):
    return db.execute_sql(query).fetchone()[0]
