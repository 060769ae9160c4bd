"""Forward migrations: a fresh database matches the models, an old one upgrades with its data."""

from peewee import SqliteDatabase

from appliance import box as box_mod
from appliance import migrate
from appliance.counter import handle
from appliance.db import SQLITE_PRAGMAS
from appliance.models import ALL_MODELS, Member

from .conftest import T0


def _columns(db, table):
    return {c.name for c in db.get_columns(table)}


def test_a_fresh_database_has_every_model_column(box):
    for model in ALL_MODELS:
        table = model._meta.table_name
        assert {f.column_name for f in model._meta.sorted_fields} <= _columns(box.db, table), table
    assert migrate.current_version(box.db) == migrate.head_version()


def test_upgrading_twice_applies_nothing_the_second_time(box):
    assert migrate.upgrade(box.db) == []


def test_a_schema_1_database_upgrades_and_keeps_its_members_and_visits(settings):
    settings.data_dir.mkdir(parents=True)
    old = SqliteDatabase(str(settings.db_path), pragmas=SQLITE_PRAGMAS)
    assert migrate.upgrade(old, target=1) == [1]
    assert "visit_count" not in _columns(old, "member")
    # data as a schema-1 box would have written it (times in microseconds)
    old.execute_sql(
        "INSERT INTO member (id, name, joined_at, stamps, rounds, locale, consent_source)"
        " VALUES (1, 'Old Timer', 1700000000000000, 3, 0, '', '')"
    )
    old.execute_sql(
        "INSERT INTO card (member_id, code, nfc_uid, label, created_at)"
        " VALUES (1, 'CLEGACY', '04AABBCCDDEEFF', '', 1700000000000000)"
    )
    for at, amount in ((1700000000000000, 350), (1700100000000000, None), (1700200000000000, 420)):
        old.execute_sql(
            "INSERT INTO visit (member_id, at, stamps, amount_cents, source)"
            " VALUES (1, ?, 1, ?, 'x')",
            (at, amount),
        )
    old.close()

    box = box_mod.start(settings)  # the start runs the forward migrations
    try:
        assert migrate.current_version(box.db) == migrate.head_version()
        member = Member.get_by_id(1)
        assert member.name == "Old Timer" and member.stamps == 3
        assert member.visit_count == 3 and member.spend_cents == 770
        assert member.first_visit_at.timestamp() == 1700000000
        assert member.last_visit_at.timestamp() == 1700200000
        # and the upgraded box works at the counter
        result = handle("04AABBCCDDEEFF", "test", now=T0)
        assert result.status == "stamped" and result.card["stamps"] == 4
        assert Member.get_by_id(1).visit_count == 4
    finally:
        box_mod.stop()


def test_a_migration_that_lands_after_a_higher_one_is_still_applied(settings):
    settings.data_dir.mkdir(parents=True)
    db = SqliteDatabase(str(settings.db_path), pragmas=SQLITE_PRAGMAS)
    migrate.upgrade(db)
    # a box that ran a build where schema 4 (device health) had not landed, but 5 and 6 had
    db.execute_sql("DELETE FROM schema_version WHERE version = 4")
    db.execute_sql("DROP TABLE device_health")
    assert migrate.current_version(db) > 4 and 4 not in migrate.applied_versions(db)
    assert migrate.upgrade(db) == [4]
    assert db.table_exists("device_health") and 4 in migrate.applied_versions(db)
    db.close()
