"""Schema 11: chain state (the mirror), voucher claims and conflicts.

Hub: `chain_card` (who a card belongs to, from its events), `chain_claim` (one row per
voucher: the one accepted redemption, decided by INSERT … ON CONFLICT DO NOTHING),
`chain_conflict` (a redemption that lost), `chain_dirty` (cards and vouchers whose state
must be published again; written in the ingest's transaction so a crash cannot lose it).

Box: `chain_card_state` (how much of other shops' stamps this box has already applied to a
card, so a state message applied twice adds nothing), the voucher's chain columns, and the
same `chain_conflict` table for the conflicts the mirror brings back.
"""

from peewee import AutoField, BigIntegerField, BooleanField, CharField, IntegerField, Model

VERSION = 11


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class ChainCard(Base):
        code = CharField(primary_key=True)
        nfc_uid = CharField(null=True)
        member_ref = CharField()
        name = CharField(default="")
        home_box = CharField(max_length=36)
        updated_at = BigIntegerField()

    class ChainClaim(Base):
        voucher_code = CharField(primary_key=True)
        box_id = CharField(max_length=36)
        event_id = CharField(max_length=36)
        at = BigIntegerField()
        online = BooleanField()
        claimed_at = BigIntegerField()

    class ChainConflict(Base):
        id = AutoField()
        voucher_code = CharField(index=True)
        event_id = CharField(max_length=36, unique=True)
        box_id = CharField(max_length=36)
        winner_box = CharField(max_length=36)
        at = BigIntegerField()
        recorded_at = BigIntegerField()
        policy = CharField(null=True)
        resolved_at = BigIntegerField(null=True)
        resolved_by = CharField(null=True)
        note = CharField(default="")

    class ChainDirty(Base):
        subject = CharField(primary_key=True)
        changed_at = BigIntegerField()

    class ChainCardState(Base):
        card_code = CharField(primary_key=True)
        remote_stamps = IntegerField(default=0)
        remote_visits = IntegerField(default=0)
        remote_last_at = BigIntegerField(null=True)
        updated_at = BigIntegerField()

    return [ChainCard, ChainClaim, ChainConflict, ChainDirty, ChainCardState]


def upgrade(db):
    db.create_tables(frozen_models(db))
    # claimed | provisional | conflict | remote (mirrored from another shop); NULL: no chain
    db.execute_sql("ALTER TABLE voucher ADD COLUMN chain_state VARCHAR(16)")
    # the redemption's event id, so the centre's verdict on it can be found again
    db.execute_sql("ALTER TABLE voucher ADD COLUMN chain_event VARCHAR(36)")
