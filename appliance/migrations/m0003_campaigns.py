"""Schema 3: segments, campaigns, automations; outbox rows per (member event, channel).

The outbox's unique key becomes (event_key, channel): one event (a member's reward, a
member's copy of a campaign) is delivered at most once on each channel. Member columns mark
suppressions (unsubscribed per channel, bounced email) so that queueing a campaign is one
INSERT ... SELECT.
"""

from peewee import AutoField, BigIntegerField, BooleanField, CharField, Model, TextField

VERSION = 3


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Segment(Base):
        id = AutoField()
        name = CharField(unique=True)
        kind = CharField()
        params = TextField(default="{}")
        created_at = BigIntegerField()

    class Campaign(Base):
        id = AutoField()
        name = CharField()
        segment = CharField()
        params = TextField(default="{}")
        channels = TextField(default="[]")
        # {"email": {"<locale or ''>": {"subject", "text", "html"}}, "sms": {"": {"text"}}}
        content = TextField(default="{}")
        voucher_reward = CharField(null=True)
        voucher_days = BigIntegerField(null=True)
        state = CharField(default="draft", index=True)
        scheduled_at = BigIntegerField(null=True)
        queued_at = BigIntegerField(null=True)
        recipients = BigIntegerField(default=0)
        created_at = BigIntegerField()

    class Automation(Base):
        name = CharField(primary_key=True)
        enabled = BooleanField(default=False)
        channels = TextField(default="[]")
        content = TextField(default="{}")
        params = TextField(default="{}")
        updated_at = BigIntegerField()

    return [Segment, Campaign, Automation]


def upgrade(db):
    db.create_tables(frozen_models(db))
    for ddl in (
        "ALTER TABLE outbox ADD COLUMN channel VARCHAR(16) NOT NULL DEFAULT ''",
        "ALTER TABLE outbox ADD COLUMN campaign_id INTEGER",
        "ALTER TABLE outbox ADD COLUMN claimed_by VARCHAR(80) NOT NULL DEFAULT ''",
        "ALTER TABLE outbox ADD COLUMN claimed_at BIGINT",
        "ALTER TABLE outbox ADD COLUMN sent_at BIGINT",
        "ALTER TABLE outbox ADD COLUMN provider_id VARCHAR(255) NOT NULL DEFAULT ''",
        "DROP INDEX outbox_event_key",
        "CREATE UNIQUE INDEX outbox_event_key_channel ON outbox (event_key, channel)",
        "CREATE INDEX outbox_state_due_at ON outbox (state, due_at)",
        "CREATE INDEX outbox_campaign_id_state ON outbox (campaign_id, state)",
        "ALTER TABLE member ADD COLUMN email_unsubscribed_at BIGINT",
        "ALTER TABLE member ADD COLUMN sms_unsubscribed_at BIGINT",
        "ALTER TABLE member ADD COLUMN email_bounced_at BIGINT",
    ):
        db.execute_sql(ddl)
