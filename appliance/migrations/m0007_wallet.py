"""Schema 7: wallet passes, Apple device registrations, pending pass updates, Google messages.

`wallet_dirty` holds at most one row per member (its primary key): a tap upserts it, so ten
taps while offline leave one pending update, and the worker always sends the latest state.
"""

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

VERSION = 7


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Member(Base):
        id = AutoField()

        class Meta:
            table_name = "member"

    class WalletPass(Base):
        member = ForeignKeyField(Member, primary_key=True, on_delete="CASCADE")
        serial = CharField(unique=True)
        auth_token = CharField()
        # strictly increasing across all passes (the PassKit "update tag")
        update_tag = BigIntegerField(index=True)
        # whole seconds, strictly increasing per pass (HTTP dates have 1-second resolution)
        modified_at = BigIntegerField()
        created_at = BigIntegerField()
        # the latest campaign text for this pass (wallet channel): a field with changeMessage
        offer = TextField(default="")

    class WalletRegistration(Base):
        id = AutoField()
        device_id = CharField()
        push_token = CharField()
        serial = CharField(index=True)
        created_at = BigIntegerField()

        class Meta:
            indexes = ((("device_id", "serial"), True),)

    class WalletDirty(Base):
        member = ForeignKeyField(Member, primary_key=True, on_delete="CASCADE")
        changed_at = BigIntegerField()
        attempts = IntegerField(default=0)
        next_at = BigIntegerField(null=True)
        last_error = TextField(default="")

    class WalletMessage(Base):
        id = AutoField()
        member = ForeignKeyField(Member, on_delete="CASCADE")
        sent_at = BigIntegerField()
        notified = BooleanField()

        class Meta:
            indexes = ((("member", "sent_at"), False),)

    return [WalletPass, WalletRegistration, WalletDirty, WalletMessage]


def upgrade(db):
    db.create_tables(frozen_models(db))
