"""The centre's STATE stream mirrored by every box: shop B sees shop A's stamps and vouchers,
and a voucher redeemed in one shop is redeemed everywhere (real nats-servers, PostgreSQL)."""

import json
from datetime import timedelta

from appliance.chain.mirror import apply_state
from appliance.chain.state import card_state
from appliance.counter import handle
from appliance.members import add_member
from appliance.vouchers import redeem_voucher

from ..conftest import T0

UID = "04A23B4C5D6E7F"


BOXES_ON_SQLITE = True  # only the centre is on PostgreSQL (conftest)


def _member(shop, uid=UID):
    return shop.box.db.execute_sql(
        "SELECT m.stamps, m.visit_count, m.last_stamp_at FROM card c"
        " JOIN member m ON m.id = c.member_id WHERE c.nfc_uid = ?",
        (uid,),
    ).fetchone()


def test_stamps_in_one_shop_show_in_the_other_and_are_counted_once(chain):
    a, b = chain.shops
    a.use()
    add_member("Anna", card_uid=UID, now=T0)
    for i in range(3):
        assert handle(UID, "t", now=T0 + timedelta(hours=i + 1), box=a.box).status == "stamped"
    assert chain.settle(lambda: (_member(b) or (0,))[0] == 3)
    assert _member(b)[1] == 3  # visits too
    result = handle(UID, "t", now=T0 + timedelta(hours=5), box=b.box)
    assert result.status == "stamped" and result.card["stamps"] == 4
    assert chain.settle(lambda: _member(a)[0] == 4)
    chain.settle(lambda: False, limit=1.0)  # let any late state arrive: nothing may change
    assert _member(a)[:2] == _member(b)[:2] == (4, 4)
    # each shop keeps its own visits; the centre has each once; nothing applied went back out
    assert a.count("SELECT COUNT(*) FROM visit") == 3
    assert b.count("SELECT COUNT(*) FROM visit") == 1
    assert b.count("SELECT COUNT(*) FROM event") == 1
    assert chain.hub_count("SELECT COUNT(*) FROM chain_visit") == 4
    assert chain.hub_count("SELECT COUNT(*) FROM chain_inbox") == 4 + 2  # + enrolment
    # a state delivered again adds nothing
    code = a.box.db.execute_sql("SELECT code FROM card WHERE nfc_uid = ?", (UID,)).fetchone()[0]
    state = json.loads(json.dumps(card_state(chain.hub_db, code)))
    with b.box.db.atomic():
        assert apply_state(b.box.db, b.id, f"chain.state.card.{code}", state, 0) == 0
    assert _member(b)[:2] == (4, 4)


def test_the_cooldown_holds_across_shops(chain):
    a, b = chain.shops
    a.use()
    add_member("Anna", card_uid=UID, now=T0)
    handle(UID, "t", now=T0 + timedelta(hours=1), box=a.box)
    assert chain.settle(lambda: (_member(b) or (0,))[0] == 1)
    later = handle(UID, "t", now=T0 + timedelta(hours=1, minutes=5), box=b.box)
    assert later.status == "cooldown"


def test_a_voucher_unlocked_in_one_shop_is_redeemed_in_another_exactly_once(chain):
    a, b = chain.shops
    a.use()
    add_member("Anna", card_uid=UID, now=T0)
    code = handle(UID, "t", stamps=10, now=T0 + timedelta(hours=1), box=a.box).unlocked[0]["code"]
    plain = code.replace("-", "")
    in_b = f"SELECT COUNT(*) FROM voucher WHERE code = '{plain}'"
    assert chain.settle(lambda: b.count(in_b) == 1)
    b.use()
    done = redeem_voucher(code, now=T0 + timedelta(hours=2), box=b.box)
    assert done.status == "redeemed"
    assert b.box.db.execute_sql(
        "SELECT chain_state FROM voucher WHERE code = ?", (plain,)
    ).fetchone() == ("claimed",)
    gone = f"SELECT COUNT(*) FROM voucher WHERE redeemed_at IS NOT NULL AND code = '{plain}'"
    assert chain.settle(lambda: a.count(gone) == 1)
    a.use()
    again = redeem_voucher(code, now=T0 + timedelta(hours=3), box=a.box)
    assert again.status == "refused" and again.reason == "already_redeemed"
    assert chain.hub_count("SELECT COUNT(*) FROM chain_claim") == 1
    assert chain.hub_count("SELECT COUNT(*) FROM chain_conflict") == 0


def test_offline_double_redemption_is_one_win_and_one_conflict_marked_in_the_losing_shop(
    chain, hub_nats
):
    a, b = chain.shops
    a.use()
    add_member("Anna", card_uid=UID, now=T0)
    code = handle(UID, "t", stamps=10, now=T0 + timedelta(hours=1), box=a.box).unlocked[0]["code"]
    plain = code.replace("-", "")
    assert chain.settle(lambda: b.count(f"SELECT COUNT(*) FROM voucher WHERE code = '{plain}'"))
    hub_nats.kill()  # the centre is gone: both shops redeem provisionally
    for shop, hours in ((b, 2), (a, 3)):
        shop.use()
        done = redeem_voucher(code, now=T0 + timedelta(hours=hours), box=shop.box)
        assert done.status == "redeemed"
        state = shop.box.db.execute_sql("SELECT chain_state FROM voucher WHERE code = ?", (plain,))
        assert state.fetchone() == ("provisional",)
    b.sync.relay.loop()  # B's redemption reaches its own JetStream first
    a.sync.relay.loop()
    hub_nats.start()
    marked = f"SELECT COUNT(*) FROM voucher WHERE chain_state = 'conflict' AND code = '{plain}'"
    assert chain.settle(lambda: a.count(marked) + b.count(marked) == 1, limit=120)
    assert chain.hub_count("SELECT COUNT(*) FROM chain_claim") == 1
    assert chain.hub_count("SELECT COUNT(*) FROM chain_conflict") == 1
    winner = chain.hub_db.execute_sql("SELECT box_id FROM chain_claim").fetchone()[0]
    loser = a if winner == b.id else b
    assert loser.count("SELECT COUNT(*) FROM chain_conflict") == 1
    assert loser.count(marked) == 1


def test_an_enrolment_in_one_shop_is_known_in_the_other_before_any_stamp(chain):
    a, b = chain.shops
    a.use()
    add_member("Anna", card_uid=UID, now=T0)
    named = "SELECT m.name FROM card c JOIN member m ON m.id = c.member_id WHERE c.nfc_uid = ?"
    assert chain.settle(lambda: b.box.db.execute_sql(named, (UID,)).fetchone() == ("Anna",))
    result = handle(UID, "t", now=T0 + timedelta(hours=1), box=b.box)
    assert result.status == "stamped" and result.member["name"] == "Anna"
    # a change of name in the home shop reaches the other one
    a.box.db.execute_sql("UPDATE member SET name = 'Anna K.' WHERE name = 'Anna'")
    assert chain.settle(lambda: b.box.db.execute_sql(named, (UID,)).fetchone() == ("Anna K.",))
    assert b.count("SELECT COUNT(*) FROM event WHERE type IN ('member', 'card')") == 0
