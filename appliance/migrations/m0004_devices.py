"""Schema 4: device health, written by the bridge, shown by the admin and the counter screen."""

from peewee import BigIntegerField, CharField, Model, TextField

VERSION = 4


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class DeviceHealth(Base):
        # one row per device the bridge knows: "nfc", "scanner-2", "printer", ...
        name = CharField(primary_key=True)
        kind = CharField()  # nfc | scanner | printer | feedback
        state = CharField()  # ready | lost | paper_out | offline | absent | ...
        detail = TextField(default="")
        last_event_at = BigIntegerField(null=True)
        updated_at = BigIntegerField()

    return [DeviceHealth]


def upgrade(db):
    db.create_tables(frozen_models(db))
