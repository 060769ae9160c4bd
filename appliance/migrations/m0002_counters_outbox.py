"""Schema 2: per-member visit counters (segments become index scans), outbox, print jobs."""

from peewee import AutoField, BigIntegerField, CharField, IntegerField, Model, TextField

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
    # Plain ALTER TABLE ADD COLUMN (portable, and instant on SQLite). playhouse.migrate would
    # rebuild the member table for NOT NULL columns, and dropping the old table cascades
    # deletes into visits and cards wherever foreign keys are enforced.
    for ddl in (
        "ALTER TABLE member ADD COLUMN visit_count INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE member ADD COLUMN first_visit_at BIGINT",
        "ALTER TABLE member ADD COLUMN last_visit_at BIGINT",
        "ALTER TABLE member ADD COLUMN spend_cents BIGINT NOT NULL DEFAULT 0",
        "CREATE INDEX member_last_visit_at ON member (last_visit_at)",
    ):
        db.execute_sql(ddl)
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
