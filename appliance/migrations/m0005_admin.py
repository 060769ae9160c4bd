"""Schema 5: the admin and the customer pages.

Login attempts (durable rate limiting across web workers), consents with their wording and
source, enrolment slips (a short code tying a self-signup to a card), shop settings, erased
members and voided vouchers, and the indexes member search and the dashboard need.
"""

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    IntegerField,
    Model,
    TextField,
)

VERSION = 5


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class LoginAttempt(Base):
        id = AutoField()
        at = BigIntegerField()
        account = CharField()
        address = CharField()

        class Meta:
            indexes = ((("account", "at"), False), (("address", "at"), False))

    class Consent(Base):
        id = AutoField()
        member_id = IntegerField(index=True)
        channel = CharField()  # email | sms
        granted = BooleanField()
        at = BigIntegerField()
        source = CharField()
        wording = TextField()
        version = CharField(default="")
        locale = CharField(default="")
        confirm_token_hash = CharField(null=True, unique=True)
        confirmed_at = BigIntegerField(null=True)

    class EnrolmentCode(Base):
        id = AutoField()
        code = CharField(unique=True)
        nfc_uid = CharField()
        created_at = BigIntegerField()
        expires_at = BigIntegerField()
        used_at = BigIntegerField(null=True)
        member_id = IntegerField(null=True)

    class ShopSetting(Base):
        key = CharField(primary_key=True)
        value = TextField()

    return [LoginAttempt, Consent, EnrolmentCode, ShopSetting]


def upgrade(db):
    db.create_tables(frozen_models(db))
    for ddl in (
        "ALTER TABLE member ADD COLUMN erased_at BIGINT",
        "ALTER TABLE voucher ADD COLUMN voided_at BIGINT",
        "ALTER TABLE voucher ADD COLUMN voided_by VARCHAR(255)",
        # member search: prefix matches on these expressions use the indexes
        "CREATE INDEX member_name_lower ON member (lower(name))",
        "CREATE INDEX member_email_lower ON member (lower(email))",
        "CREATE INDEX member_joined_at ON member (joined_at)",
        # the dashboard counts members still there without reading every row
        "CREATE INDEX member_erased_at ON member (erased_at)",
        # the dashboard counts by day
        "CREATE INDEX voucher_issued_at ON voucher (issued_at)",
        "CREATE INDEX voucher_redeemed_at ON voucher (redeemed_at)",
        "CREATE INDEX audit_log_at ON audit_log (at)",
        "CREATE INDEX outbox_member_id ON outbox (member_id)",
    ):
        db.execute_sql(ddl)
