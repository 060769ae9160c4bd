"""Schema 2: per-member visit counters (segments become index scans), outbox, print jobs."""

from peewee import AutoField, BigIntegerField, CharField, IntegerField, Model, TextField
from playhouse.migrate import SchemaMigrator, migrate

VERSION = 2


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Outbox(Base):
        id = AutoField()
        event_key = CharField(unique=True)
        kind = CharField()
        # a plain column here: the frozen Member model of schema 1 is not needed for it
        member_id = IntegerField(null=True)
        payload = TextField(default="{}")
        state = CharField(default="pending", index=True)
        due_at = BigIntegerField(index=True)
        attempts = IntegerField(default=0)
        last_error = TextField(default="")
        created_at = BigIntegerField()

    class PrintJob(Base):
        id = AutoField()
        created_at = BigIntegerField()
        document = TextField()
        state = CharField(default="pending", index=True)
        attempts = IntegerField(default=0)
        printed_at = BigIntegerField(null=True)
        last_error = TextField(default="")

    return [Outbox, PrintJob]


def upgrade(db):
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("member", "visit_count", IntegerField(default=0)),
        migrator.add_column("member", "first_visit_at", BigIntegerField(null=True)),
        migrator.add_column("member", "last_visit_at", BigIntegerField(null=True)),
        migrator.add_column("member", "spend_cents", BigIntegerField(default=0)),
        migrator.add_index("member", ("last_visit_at",), False),
    )
    # members who visited before schema 2 get their counters from the visit history
    db.execute_sql(
        "UPDATE member SET"
        " visit_count = (SELECT COUNT(*) FROM visit v WHERE v.member_id = member.id),"
        " first_visit_at = (SELECT MIN(v.at) FROM visit v WHERE v.member_id = member.id),"
        " last_visit_at = (SELECT MAX(v.at) FROM visit v WHERE v.member_id = member.id),"
        " spend_cents = (SELECT COALESCE(SUM(v.amount_cents), 0) FROM visit v"
        " WHERE v.member_id = member.id)"
    )
    db.create_tables(frozen_models(db))
