"""Schema 12: the centre's register of provisioned boxes.

`stampbox hub provision` adds a row; the hub sources each registered box's event stream and
writes the leaf node credentials into its nats-server configuration. The leaf password is
kept as given (nats-server's configuration needs it, or a bcrypt hash we cannot make here).
"""

from peewee import BigIntegerField, CharField, Model

VERSION = 12


def frozen_models(db):
    class ChainBox(Model):
        box_id = CharField(max_length=36, primary_key=True)
        name = CharField()
        leaf_user = CharField(unique=True)
        leaf_password = CharField()
        created_at = BigIntegerField()
        retired_at = BigIntegerField(null=True)

        class Meta:
            database = db
            legacy_table_names = False

    return [ChainBox]


def upgrade(db):
    db.create_tables(frozen_models(db))
