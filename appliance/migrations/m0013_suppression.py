"""Schema 13: the hashed suppression list.

One row per (channel, address hash, reason): an address that unsubscribed, bounced or
belonged to an erased member, kept as an HMAC of the normalised address under the box's
`suppression_key`, so the opt-out survives erasure without keeping the address itself.
"""

from peewee import AutoField, BigIntegerField, CharField, Model

VERSION = 13


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Suppression(Base):
        id = AutoField()
        channel = CharField()  # email | sms
        address_hash = CharField()
        reason = CharField()  # unsubscribed | bounced | erased
        at = BigIntegerField()

        class Meta:
            indexes = ((("channel", "address_hash", "reason"), True),)

    return [Suppression]


def upgrade(db):
    db.create_tables(frozen_models(db))
