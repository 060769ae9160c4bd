"""Schema 8: chain mode. The box's outgoing event log, its box id, and the hub's tables.

`event` is written in the same transaction as the business row (a stamp, a redemption); the
relay publishes unsent rows and sets `sent_at` after JetStream's acknowledgement. The partial
index holds only unsent rows, so it stays small however long the log grows.

The `chain_*` tables are the hub's (empty on a box): `chain_inbox` is keyed by event id, so
an event delivered twice is applied once; visits are rows, never replicated counters.
"""

import uuid

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    IntegerField,
    Model,
    SmallIntegerField,
    TextField,
)

VERSION = 8


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Event(Base):
        id = AutoField()
        uuid = CharField(max_length=36)
        box_id = CharField(max_length=36)
        type = CharField(max_length=32)
        payload = TextField()
        schema_version = SmallIntegerField()
        created_at = BigIntegerField()
        sent_at = BigIntegerField(null=True)

    class ChainInbox(Base):
        event_id = CharField(max_length=36, primary_key=True)
        box_id = CharField(max_length=36)
        type = CharField(max_length=32)
        created_at = BigIntegerField()
        applied_at = BigIntegerField()

        class Meta:
            indexes = ((("box_id", "created_at"), False),)

    class ChainVisit(Base):
        id = AutoField()
        event_id = CharField(max_length=36, unique=True)
        box_id = CharField(max_length=36)
        card_code = CharField(index=True)
        member_ref = CharField()
        at = BigIntegerField()
        stamps = IntegerField()
        amount_cents = BigIntegerField(null=True)
        source = CharField(default="")
        clock_synced = BooleanField(default=True)

    class ChainVoucher(Base):
        code = CharField(primary_key=True)
        event_id = CharField(max_length=36)
        box_id = CharField(max_length=36)
        card_code = CharField(index=True)
        kind = CharField()
        reward = CharField()
        valid_from = BigIntegerField()
        valid_until = BigIntegerField()

    class ChainRedemption(Base):
        id = AutoField()
        event_id = CharField(max_length=36, unique=True)
        box_id = CharField(max_length=36)
        voucher_code = CharField(index=True)
        at = BigIntegerField()
        by = CharField(default="")

    return [Event, ChainInbox, ChainVisit, ChainVoucher, ChainRedemption]


def upgrade(db):
    db.create_tables(frozen_models(db))
    db.execute_sql("CREATE INDEX event_unsent ON event (id) WHERE sent_at IS NULL")
    # the box's identity in the chain, made once: a restored backup stays the same box
    db.execute_sql(
        f"INSERT INTO shop_setting (key, value) VALUES ('box_id', {db.param})",
        (str(uuid.uuid4()),),
    )
