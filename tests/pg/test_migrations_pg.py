"""Forward migrations on PostgreSQL: from nothing to head, and from schema 1 with its data."""

from appliance import box as box_mod
from appliance import migrate
from appliance.counter import handle
from appliance.db import open_database
from appliance.models import Member
from appliance.settings import load_settings

from ..conftest import T0
from ..test_migrations import (  # noqa: F401
    test_a_fresh_database_has_every_model_column,
    test_upgrading_twice_applies_nothing_the_second_time,
)


def test_a_schema_1_database_upgrades_and_keeps_its_members_and_visits(tmp_path, pg_empty_url):
    settings = load_settings(
        environ={}, data_dir=tmp_path / "var", timezone="UTC", database_url=pg_empty_url
    )
    old = open_database(settings, bind=False)
    assert migrate.upgrade(old, target=1) == [1]
    old.execute_sql(
        "INSERT INTO member (id, name, joined_at, stamps, rounds, locale, consent_source)"
        " VALUES (1, 'Old Timer', 1700000000000000, 3, 0, '', '')"
    )
    # an explicit id does not move PostgreSQL's sequence: the upgrade must cope with that
    old.execute_sql("SELECT setval('member_id_seq', 1)")
    old.execute_sql(
        "INSERT INTO card (member_id, code, nfc_uid, label, created_at)"
        " VALUES (1, 'CLEGACY', '04AABBCCDDEEFF', '', 1700000000000000)"
    )
    for at, amount in ((1700000000000000, 350), (1700100000000000, None), (1700200000000000, 420)):
        old.execute_sql(
            "INSERT INTO visit (member_id, at, stamps, amount_cents, source)"
            " VALUES (1, %s, 1, %s, 'x')",
            (at, amount),
        )
    old.close()

    box = box_mod.start(settings)
    try:
        assert migrate.current_version(box.db) == migrate.head_version()
        member = Member.get_by_id(1)
        assert member.visit_count == 3 and member.spend_cents == 770
        assert member.first_visit_at.timestamp() == 1700000000
        result = handle("04AABBCCDDEEFF", "test", now=T0)
        assert result.status == "stamped" and result.card["stamps"] == 4
        assert Member.get_by_id(1).visit_count == 4
    finally:
        box_mod.stop()
