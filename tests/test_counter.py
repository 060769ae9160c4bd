"""The counter loop: stamping, cooldown edges, tiers, card rollover, unknown and bad tokens."""

from datetime import timedelta

import pytest

from appliance.counter import handle
from appliance.members import add_member
from appliance.models import CounterEvent, Member, Outbox, Visit, Voucher
from appliance.program import Tier, set_program

from .conftest import T0

UID = "04A23B4C5D6E7F"


@pytest.fixture
def anna(box):
    return add_member("Anna", card_uid=UID, now=T0)


def tap(token=UID, at=T0, **kw):
    return handle(token, "test", now=at, **kw)


def test_first_tap_stamps_the_card_and_logs_an_event(anna):
    result = tap()
    assert result.status == "stamped"
    assert result.member == {"id": anna["id"], "external_id": None, "name": "Anna"}
    assert result.card == {"code": anna["cards"][0]["code"], "stamps": 1, "stamps_needed": 10}
    assert result.stamps_added == 1
    assert result.unlocked == [] and result.vouchers == []
    assert Visit.select().count() == 1
    event = CounterEvent.get_by_id(result.event_id)
    assert event.status == "stamped" and event.member_id == anna["id"]


@pytest.mark.parametrize(
    ("after", "status"),
    [
        (timedelta(minutes=30) - timedelta(microseconds=1), "cooldown"),
        (timedelta(minutes=30), "stamped"),
        (timedelta(minutes=31), "stamped"),
        (timedelta(minutes=1), "cooldown"),
    ],
)
def test_cooldown_edges(anna, after, status):
    assert tap().status == "stamped"
    result = tap(at=T0 + after)
    assert result.status == status
    assert Member.get_by_id(anna["id"]).stamps == (2 if status == "stamped" else 1)
    if status == "cooldown":
        assert result.stamps_added == 0
        assert result.next_stamp_at == "2026-11-24T09:30:00Z"
        assert "09:30" in result.message


def test_the_printed_code_and_the_nfc_card_share_one_cooldown(anna):
    assert tap().status == "stamped"
    assert tap(anna["cards"][0]["code"], at=T0 + timedelta(minutes=5)).status == "cooldown"


def test_staff_may_add_several_stamps_in_one_visit(anna):
    result = tap(stamps=4)
    assert result.status == "stamped" and result.stamps_added == 4
    assert result.card["stamps"] == 4


def test_tenth_stamp_unlocks_the_reward_and_starts_a_new_card(anna):
    for i in range(9):
        assert tap(at=T0 + timedelta(hours=i)).card["stamps"] == i + 1
    result = tap(at=T0 + timedelta(hours=9))
    assert result.card["stamps"] == 0
    assert [v["reward"] for v in result.unlocked] == ["Free coffee"]
    assert result.vouchers == result.unlocked
    voucher = Voucher.get()
    assert voucher.valid_until - voucher.valid_from == timedelta(days=90)
    assert Outbox.get().kind == "reward_unlocked"
    assert Member.get_by_id(anna["id"]).rounds == 1


def test_a_full_card_keeps_the_surplus_stamps(anna):
    tap(stamps=8)
    result = tap(at=T0 + timedelta(hours=1), stamps=5)
    assert result.card["stamps"] == 3
    assert len(result.unlocked) == 1


def test_enough_stamps_for_two_cards_unlock_two_rewards(anna):
    result = tap(stamps=23)
    assert result.card["stamps"] == 3
    assert len(result.unlocked) == 2
    assert len({v["code"] for v in result.unlocked}) == 2


def test_tiers_unlock_at_each_threshold(anna):
    set_program([Tier(3, "Cookie"), Tier(6, "Coffee")], voucher_days=30, now=T0)
    first = tap(stamps=3)
    assert [v["reward"] for v in first.unlocked] == ["Cookie"]
    assert first.card == {"code": anna["cards"][0]["code"], "stamps": 3, "stamps_needed": 6}
    second = tap(at=T0 + timedelta(hours=1), stamps=4)
    assert [v["reward"] for v in second.unlocked] == ["Coffee"]
    assert second.card["stamps"] == 1
    assert {v["reward"] for v in second.vouchers} == {"Cookie", "Coffee"}


def test_a_program_shrunk_below_a_card_completes_it_on_the_next_stamp(anna):
    tap(stamps=8)
    set_program([Tier(5, "Coffee")], now=T0)
    result = tap(at=T0 + timedelta(hours=1))
    assert [v["reward"] for v in result.unlocked] == ["Coffee"]
    assert result.card["stamps"] == 0


def test_an_unknown_card_offers_enrolment_and_changes_no_member(box):
    result = tap("04112233445566")
    assert result.status == "unknown_card"
    assert result.enrol == {"nfc_uid": "04112233445566"}
    assert result.member is None and result.card is None
    assert Member.select().count() == 0


def test_a_phone_with_a_random_uid_is_refused(box):
    result = tap("08A1B2C3")
    assert result.status == "refused" and result.reason == "random_uid"
    assert CounterEvent.get_by_id(result.event_id).message == result.message
    assert Visit.select().count() == 0


@pytest.mark.parametrize(
    "token",
    [
        "",
        "   ",
        "\n",
        "x" * 600,
        b"\xff\xfe\x00garbage",
        "04A2\x003B4C5D6E7F",
        "\x1b[2J",
        "hello world",
        "DROP TABLE member;--",
        "04A23B4C5D6E",
        "😀",
    ],
)
def test_bad_input_is_refused_and_changes_nothing(anna, token):
    before = (Visit.select().count(), CounterEvent.select().count(), Member.get().stamps)
    result = tap(token)
    assert result.status == "refused"
    assert result.reason in ("bad_token", "unrecognised")
    assert result.message
    assert (Visit.select().count(), CounterEvent.select().count(), Member.get().stamps) == before


def forge(code: str) -> str:
    """A well-formed code with a correct check symbol whose MAC is wrong."""
    from appliance.codes import ALPHABET, _check_value

    body = code.replace("-", "")[:-1]
    for pos in range(8, 15):
        for step in range(1, 32):
            other = ALPHABET[(ALPHABET.index(body[pos]) + step) % 32]
            forged = body[:pos] + other + body[pos + 1 :]
            if _check_value(forged) < 32:
                return forged + ALPHABET[_check_value(forged)]
    raise AssertionError("no forgery found")


def test_a_forged_card_code_is_refused(anna):
    result = tap(forge(anna["cards"][0]["code"]))
    assert result.status == "refused" and result.reason == "invalid_code"
    assert "not issued by this shop" in result.message
    assert Visit.select().count() == 0


def test_a_qr_url_carrying_the_card_code_is_accepted(anna):
    code = anna["cards"][0]["code"]
    assert tap(f"https://shop.example/c/{code}").status == "stamped"


def test_amount_is_added_to_the_members_spend(anna):
    tap(amount_cents=450)
    member = Member.get_by_id(anna["id"])
    assert member.spend_cents == 450 and member.visit_count == 1
    assert member.first_visit_at == T0 == member.last_visit_at


@pytest.mark.parametrize("stamps", [0, -1, 51])
def test_a_stamp_count_out_of_range_is_a_usage_error(anna, stamps):
    with pytest.raises(ValueError):
        tap(stamps=stamps)


def test_an_unlock_queues_its_voucher_slip_in_the_taps_own_commit(anna, box):
    from appliance.models import PrintJob

    result = tap(stamps=10)
    (job,) = PrintJob.select()
    assert job.state == "pending" and result.unlocked[0]["code"] in job.document


def test_no_printer_means_no_slip(anna, box):
    from dataclasses import replace

    from appliance import box as box_mod
    from appliance.models import PrintJob

    no_printer = box_mod.start(replace(box.settings, printer="none"))
    handle(UID, "test", stamps=10, now=T0, box=no_printer)
    assert PrintJob.select().count() == 0
