"""Card blocks and replacements across a chain: a card replaced in shop A is refused in shop B,
and its replacement carries on the same member there (real nats-servers, PostgreSQL)."""

from datetime import timedelta

from appliance.counter import handle
from appliance.members import add_member, replace_card

from ..conftest import T0

OLD, NEW = "04A23B4C5D6E7F", "04FFEEDDCCBBAA"


BOXES_ON_SQLITE = True  # only the centre is on PostgreSQL (conftest)


def _card(shop, uid):
    return shop.box.db.execute_sql(
        "SELECT c.member_id, c.blocked_at, m.stamps FROM card c JOIN member m ON m.id = c.member_id"
        " WHERE c.nfc_uid = ?",
        (uid,),
    ).fetchone()


def test_a_card_replaced_in_one_shop_is_refused_in_the_other_and_the_new_one_carries_on(chain):
    a, b = chain.shops
    a.use()
    anna = add_member("Anna", card_uid=OLD, now=T0)
    for i in range(2):
        assert handle(OLD, "t", now=T0 + timedelta(hours=i + 1), box=a.box).status == "stamped"
    assert chain.settle(lambda: (_card(b, OLD) or (0, 0, 0))[2] == 2)
    b_member = _card(b, OLD)[0]

    replace_card(anna["id"], NEW, "owner", now=T0 + timedelta(hours=3))
    assert chain.settle(lambda: _card(b, NEW) is not None and _card(b, OLD)[1] is not None)
    # the lost card is refused in B as in A; the new one is the same member, stamps and all
    result = handle(OLD, "t", now=T0 + timedelta(hours=5), box=b.box)
    assert result.status == "refused" and result.reason == "card_blocked"
    assert _card(b, NEW)[0] == b_member
    result = handle(NEW, "t", now=T0 + timedelta(hours=6), box=b.box)
    assert result.status == "stamped" and result.card["stamps"] == 3
    assert chain.settle(lambda: _card(a, NEW)[2] == 3)
    # nothing B applied went back out as its own card event
    assert b.count("SELECT COUNT(*) FROM event WHERE type IN ('card', 'member')") == 0
    assert b.count("SELECT COUNT(*) FROM member WHERE consent_source = 'chain'") == 1
