"""Schema 1: members, cards, the program, visits, vouchers, counter events, staff, audit."""

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    SmallIntegerField,
    TextField,
)

VERSION = 1


def frozen_models(db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Program(Base):
        id = AutoField()
        name = CharField(default="Stamp card")
        voucher_days = IntegerField(default=90)
        active = BooleanField(default=True)
        updated_at = BigIntegerField()

    class RewardTier(Base):
        id = AutoField()
        program = ForeignKeyField(Program, on_delete="CASCADE")
        stamps = IntegerField()
        reward = CharField()

        class Meta:
            indexes = ((("program", "stamps"), True),)

    class Member(Base):
        id = AutoField()
        external_id = CharField(null=True, unique=True)
        name = CharField(default="")
        email = CharField(null=True, index=True)
        phone = CharField(null=True, index=True)
        birthday_month = SmallIntegerField(null=True)
        birthday_day = SmallIntegerField(null=True)
        birthday_year = SmallIntegerField(null=True)
        locale = CharField(default="")
        email_consent_at = BigIntegerField(null=True)
        sms_consent_at = BigIntegerField(null=True)
        consent_source = CharField(default="")
        joined_at = BigIntegerField()
        stamps = IntegerField(default=0)
        rounds = IntegerField(default=0)
        last_stamp_at = BigIntegerField(null=True)

        class Meta:
            indexes = ((("birthday_month", "birthday_day"), False),)

    class Card(Base):
        id = AutoField()
        member = ForeignKeyField(Member, on_delete="CASCADE")
        code = CharField(unique=True)
        nfc_uid = CharField(null=True, unique=True)
        label = CharField(default="")
        created_at = BigIntegerField()
        blocked_at = BigIntegerField(null=True)

    class StaffUser(Base):
        id = AutoField()
        username = CharField(unique=True)
        password_hash = CharField()
        role = CharField(default="staff")
        created_at = BigIntegerField()

    class Visit(Base):
        id = AutoField()
        member = ForeignKeyField(Member, on_delete="CASCADE")
        card = ForeignKeyField(Card, null=True, on_delete="SET NULL")
        at = BigIntegerField()
        stamps = IntegerField()
        amount_cents = BigIntegerField(null=True)
        source = CharField(default="")
        staff = ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")
        import_key = CharField(null=True, unique=True)

        class Meta:
            indexes = ((("member", "at"), False), (("at",), False))

    class Voucher(Base):
        id = AutoField()
        code = CharField(unique=True)
        member = ForeignKeyField(Member, on_delete="CASCADE")
        kind = CharField()
        reward = CharField()
        issued_at = BigIntegerField()
        valid_from = BigIntegerField()
        valid_until = BigIntegerField()
        redeemed_at = BigIntegerField(null=True)
        redeemed_by = CharField(null=True)
        source_key = CharField(unique=True)

        class Meta:
            indexes = ((("member", "redeemed_at"), False),)

    class CounterEvent(Base):
        id = AutoField()
        at = BigIntegerField()
        source = CharField()
        status = CharField()
        message = TextField()
        member = ForeignKeyField(Member, null=True, on_delete="SET NULL")
        payload = TextField()

    class DeviceToken(Base):
        id = AutoField()
        name = CharField(unique=True)
        token_hash = CharField(unique=True)
        created_at = BigIntegerField()
        last_used_at = BigIntegerField(null=True)
        revoked_at = BigIntegerField(null=True)

    class AuditLog(Base):
        id = AutoField()
        at = BigIntegerField()
        actor = CharField()
        action = CharField()
        detail = TextField(default="{}")

    return [
        Program,
        RewardTier,
        Member,
        Card,
        StaffUser,
        Visit,
        Voucher,
        CounterEvent,
        DeviceToken,
        AuditLog,
    ]


def upgrade(db):
    db.create_tables(frozen_models(db))
