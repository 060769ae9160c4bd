"""Chain mode, box side: cards of other shops follow what their home shop did to them (a block,
a replacement, a merge of two members), applied from the centre's card states."""

from appliance.chain import box_id
from appliance.chain.mirror import apply_state
from appliance.clock import to_micros
from appliance.models import Card, Member

from .conftest import T0


def _state(code, ref, name, stamps, **extra):
    home = ref.split(":")[0]
    return {
        "code": code, "nfc_uid": None, "member": ref, "name": name, "home": home,
        "boxes": {home: {"stamps": stamps, "visits": stamps, "last_at": to_micros(T0) + stamps,
                         "spend_cents": 0}},
    } | extra  # fmt: skip


def _apply(box, state, now=1):
    with box.db.atomic():
        apply_state(box.db, box_id(box.db), f"chain.state.card.{state['code']}", state, now)


def _holder(code):
    return Member.select().join(Card).where(Card.code == code).get()


def test_two_members_merged_in_their_home_shop_are_merged_here(box):
    _apply(box, _state("CARD0001", "home:1", "Anna", 2))
    _apply(box, _state("CARD0002", "home:2", "Anna B.", 3))
    assert Member.select().count() == 2
    # the home shop merged member 2 into 1: card 2 now names member 1
    _apply(box, _state("CARD0002", "home:1", "Anna", 3))
    anna = _holder("CARD0002")
    assert _holder("CARD0001").id == anna.id and Member.select().count() == 1
    assert (anna.stamps, anna.visit_count, anna.chain_ref) == (5, 5, "home:1")
    assert anna.last_visit_at == T0.replace(microsecond=3)


def test_a_card_moved_to_a_member_this_shop_does_not_know_takes_its_copy_along(box):
    _apply(box, _state("CARD0003", "home:3", "Bo", 1))
    _apply(box, _state("CARD0003", "home:4", "Bo", 1))
    bo = _holder("CARD0003")
    assert bo.chain_ref == "home:4" and bo.stamps == 1 and Member.select().count() == 1


def test_a_blocked_card_is_blocked_here_and_a_new_card_of_the_member_joins_them(box):
    _apply(box, _state("CARD0005", "home:5", "Cy", 2))
    _apply(box, _state("CARD0005", "home:5", "Cy", 2, blocked_at=to_micros(T0)))
    _apply(box, _state("CARD0006", "home:5", "Cy", 0))
    assert Card.get(Card.code == "CARD0005").blocked_at == T0
    assert _holder("CARD0006").id == _holder("CARD0005").id
    assert Member.select().count() == 1
