"""Today's models. Migrations in appliance/migrations carry their own frozen copies."""

from __future__ import annotations

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

from .clock import from_micros, to_micros
from .db import database


class MomentField(BigIntegerField):
    """An aware UTC datetime stored as integer microseconds: portable, exact, index-friendly."""

    def db_value(self, value):
        return None if value is None else to_micros(value)

    def python_value(self, value):
        return from_micros(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Program(BaseModel):
    id = AutoField()
    name = CharField(default="Stamp card")
    voucher_days = IntegerField(default=90)
    active = BooleanField(default=True)
    updated_at = MomentField()


class RewardTier(BaseModel):
    id = AutoField()
    program = ForeignKeyField(Program, backref="tiers", on_delete="CASCADE")
    stamps = IntegerField()
    reward = CharField()

    class Meta:
        indexes = ((("program", "stamps"), True),)


class Member(BaseModel):
    id = AutoField()
    external_id = CharField(null=True, unique=True)
    name = CharField(default="")
    email = CharField(null=True, index=True)
    phone = CharField(null=True, index=True)
    birthday_month = SmallIntegerField(null=True)
    birthday_day = SmallIntegerField(null=True)
    birthday_year = SmallIntegerField(null=True)
    locale = CharField(default="")
    email_consent_at = MomentField(null=True)
    sms_consent_at = MomentField(null=True)
    consent_source = CharField(default="")
    joined_at = MomentField()
    # the stamp card: stamps on the current card, cards completed, last stamp (cooldown)
    stamps = IntegerField(default=0)
    rounds = IntegerField(default=0)
    last_stamp_at = MomentField(null=True)
    # counters kept by each visit so segments are index scans, not aggregates
    visit_count = IntegerField(default=0)
    first_visit_at = MomentField(null=True)
    last_visit_at = MomentField(null=True, index=True)
    spend_cents = BigIntegerField(default=0)
    # suppressions (schema 3): set by one-click unsubscribe and by bounces
    email_unsubscribed_at = MomentField(null=True)
    sms_unsubscribed_at = MomentField(null=True)
    email_bounced_at = MomentField(null=True)
    # erased on request: personal data gone, the row (and its visit counts) kept (schema 5)
    erased_at = MomentField(null=True)
    # a member another shop made, as the centre names it ("<box>:<id>"; schema 17)
    chain_ref = CharField(null=True)

    class Meta:
        indexes = ((("birthday_month", "birthday_day"), False),)


class Card(BaseModel):
    """Something that identifies a member at the counter: an NFC UID, a printed/QR code."""

    id = AutoField()
    member = ForeignKeyField(Member, backref="cards", on_delete="CASCADE")
    code = CharField(unique=True)
    nfc_uid = CharField(null=True, unique=True)
    label = CharField(default="")
    created_at = MomentField()
    blocked_at = MomentField(null=True)


class StaffUser(BaseModel):
    id = AutoField()
    username = CharField(unique=True)
    password_hash = CharField()
    role = CharField(default="staff")  # owner | staff
    created_at = MomentField()
    # a one-time or generated password (setup slip, set by an owner): chosen anew at login
    must_change_password = BooleanField(default=False)


class Visit(BaseModel):
    id = AutoField()
    # indexed by visit_member_history below, which begins with it (schema 19)
    member = ForeignKeyField(Member, backref="visits", on_delete="CASCADE", index=False)
    card = ForeignKeyField(Card, null=True, on_delete="SET NULL")
    at = MomentField()
    stamps = IntegerField()
    amount_cents = BigIntegerField(null=True)
    source = CharField(default="")
    staff = ForeignKeyField(StaffUser, null=True, on_delete="SET NULL")
    import_key = CharField(null=True, unique=True)
    # False: stamped before the box's clock was synchronised (time is "not before the last event")
    clock_synced = BooleanField(default=True)

    class Meta:
        # one index for a member's visits (schema 19): it covers top-customers' GROUP BY
        # member (spend) and the member page's history (stamps, source) without the table
        indexes = (
            (("at",), False),
            (("member", "at", "amount_cents", "stamps", "source"), False),
        )


class Voucher(BaseModel):
    id = AutoField()
    code = CharField(unique=True)
    member = ForeignKeyField(Member, backref="vouchers", on_delete="CASCADE")
    kind = CharField()  # tier | birthday | campaign
    reward = CharField()
    issued_at = MomentField()
    valid_from = MomentField()
    valid_until = MomentField()
    redeemed_at = MomentField(null=True)
    redeemed_by = CharField(null=True)
    # what issued it, e.g. "tier:<member>:<round>:<stamps>": issuing twice is impossible
    source_key = CharField(unique=True)
    # voided by the owner: valid_until is moved to the void time too, so redemption refuses it
    voided_at = MomentField(null=True)
    voided_by = CharField(null=True)
    # chain mode (schema 11): claimed | provisional | conflict | remote; the redemption's event
    chain_state = CharField(null=True, max_length=16)
    chain_event = CharField(null=True, max_length=36)

    class Meta:
        indexes = ((("member", "redeemed_at"), False),)


class CounterEvent(BaseModel):
    """The durable log the counter screen follows: every tap, scan and redemption."""

    id = AutoField()
    at = MomentField()
    source = CharField()
    status = CharField()
    message = TextField()
    member = ForeignKeyField(Member, null=True, on_delete="SET NULL")
    payload = TextField()


class Outbox(BaseModel):
    """Work other processes do for an event, written in the event's own transaction."""

    id = AutoField()
    # one event on one channel is delivered at most once: unique (event_key, channel) (schema 3)
    event_key = CharField()
    kind = CharField()
    member = ForeignKeyField(Member, null=True, on_delete="CASCADE")
    payload = TextField(default="{}")
    state = CharField(default="pending", index=True)
    due_at = MomentField(index=True)
    attempts = IntegerField(default=0)
    last_error = TextField(default="")
    created_at = MomentField()
    # schema 3: messages (kind "message") go out on a channel; "" marks a trigger row
    channel = CharField(default="")
    campaign_id = IntegerField(null=True)
    claimed_by = CharField(default="")
    claimed_at = MomentField(null=True)
    sent_at = MomentField(null=True)
    provider_id = CharField(default="")

    class Meta:
        indexes = (
            (("event_key", "channel"), True),
            (("state", "due_at"), False),
            (("campaign_id", "state"), False),
        )


class PrintJob(BaseModel):
    id = AutoField()
    created_at = MomentField()
    document = TextField()
    state = CharField(default="pending", index=True)
    attempts = IntegerField(default=0)
    printed_at = MomentField(null=True)
    last_error = TextField(default="")
    # a slip that must print once (schema 16): unique where set
    source_key = CharField(null=True)


class DeviceToken(BaseModel):
    id = AutoField()
    name = CharField(unique=True)
    token_hash = CharField(unique=True)
    created_at = MomentField()
    last_used_at = MomentField(null=True)
    revoked_at = MomentField(null=True)


class AuditLog(BaseModel):
    id = AutoField()
    at = MomentField()
    actor = CharField()
    action = CharField()
    detail = TextField(default="{}")


class LoginAttempt(BaseModel):
    """A failed login, kept for a while so guessing is slowed across all web workers."""

    id = AutoField()
    at = MomentField()
    account = CharField()
    address = CharField()


class Consent(BaseModel):
    """One consent given or withdrawn, with the exact wording shown and where it happened."""

    id = AutoField()
    member = ForeignKeyField(Member, on_delete="CASCADE", column_name="member_id")
    channel = CharField()  # email | sms
    granted = BooleanField()
    at = MomentField()
    source = CharField()
    wording = TextField()
    version = CharField(default="")
    locale = CharField(default="")
    confirm_token_hash = CharField(null=True, unique=True)
    confirmed_at = MomentField(null=True)


class EnrolmentCode(BaseModel):
    """A short code on an enrolment slip: ties a self-signup to the card it was printed for."""

    id = AutoField()
    code = CharField(unique=True)
    nfc_uid = CharField()
    created_at = MomentField()
    expires_at = MomentField()
    used_at = MomentField(null=True)
    member_id = IntegerField(null=True)


class Suppression(BaseModel):
    """An address that must get no marketing, kept as an HMAC only (schema 13)."""

    id = AutoField()
    channel = CharField()  # email | sms
    address_hash = CharField()
    reason = CharField()  # unsubscribed | bounced | erased
    at = MomentField()

    class Meta:
        indexes = ((("channel", "address_hash", "reason"), True),)


class ShopSetting(BaseModel):
    key = CharField(primary_key=True)
    value = TextField()


class Segment(BaseModel):
    """A segment the owner saved under their own name: a kind and its parameters."""

    id = AutoField()
    name = CharField(unique=True)
    kind = CharField()
    params = TextField(default="{}")
    created_at = MomentField()


class Campaign(BaseModel):
    id = AutoField()
    name = CharField()
    segment = CharField()
    params = TextField(default="{}")
    channels = TextField(default="[]")
    content = TextField(default="{}")
    voucher_reward = CharField(null=True)
    voucher_days = BigIntegerField(null=True)
    state = CharField(default="draft", index=True)
    scheduled_at = MomentField(null=True)
    queued_at = MomentField(null=True)
    recipients = BigIntegerField(default=0)
    created_at = MomentField()


class Automation(BaseModel):
    name = CharField(primary_key=True)
    enabled = BooleanField(default=False)
    channels = TextField(default="[]")
    content = TextField(default="{}")
    params = TextField(default="{}")
    updated_at = MomentField()


class DeviceHealth(BaseModel):
    """The bridge's devices as last seen (schema 4): present, last event, printer status."""

    name = CharField(primary_key=True)
    kind = CharField()
    state = CharField()
    detail = TextField(default="")
    last_event_at = MomentField(null=True)
    updated_at = MomentField()



class WalletPass(BaseModel):
    """A member's wallet pass (schema 7): serial, web service token, update tag."""

    member = ForeignKeyField(Member, primary_key=True, on_delete="CASCADE")
    serial = CharField(unique=True)
    auth_token = CharField()
    update_tag = BigIntegerField(index=True)
    modified_at = BigIntegerField()  # whole seconds
    created_at = BigIntegerField()
    offer = TextField(default="")  # the latest campaign text (wallet channel)


class WalletRegistration(BaseModel):
    id = AutoField()
    device_id = CharField()
    push_token = CharField()
    serial = CharField(index=True)
    created_at = BigIntegerField()

    class Meta:
        indexes = ((("device_id", "serial"), True),)


class WalletDirty(BaseModel):
    """At most one pending wallet update per member (a tap upserts it)."""

    member = ForeignKeyField(Member, primary_key=True, on_delete="CASCADE")
    changed_at = BigIntegerField()
    attempts = IntegerField(default=0)
    next_at = BigIntegerField(null=True)
    last_error = TextField(default="")


class WalletMessage(BaseModel):
    """Google Wallet messages sent to a member's pass (3 notifying ones per 24 h)."""

    id = AutoField()
    member = ForeignKeyField(Member, on_delete="CASCADE")
    sent_at = BigIntegerField()
    notified = BooleanField()

    class Meta:
        indexes = ((("member", "sent_at"), False),)


# -- chain mode (schema 8): the box's outgoing event log and the hub's tables ----------------


class Event(BaseModel):
    """One business change for the chain; the relay sets sent_at after JetStream's ack."""

    id = AutoField()
    uuid = CharField(max_length=36)
    box_id = CharField(max_length=36)
    type = CharField(max_length=32)
    payload = TextField()
    schema_version = SmallIntegerField()
    created_at = BigIntegerField()
    sent_at = BigIntegerField(null=True)


class ChainInbox(BaseModel):
    """Hub: every applied event once, keyed by its UUID (a redelivery finds its row)."""

    event_id = CharField(max_length=36, primary_key=True)
    box_id = CharField(max_length=36)
    type = CharField(max_length=32)
    created_at = BigIntegerField()
    applied_at = BigIntegerField()


class ChainVisit(BaseModel):
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


class ChainVoucher(BaseModel):
    code = CharField(primary_key=True)
    event_id = CharField(max_length=36)
    box_id = CharField(max_length=36)
    card_code = CharField(index=True)
    kind = CharField()
    reward = CharField()
    valid_from = BigIntegerField()
    valid_until = BigIntegerField()


class ChainRedemption(BaseModel):
    id = AutoField()
    event_id = CharField(max_length=36, unique=True)
    box_id = CharField(max_length=36)
    voucher_code = CharField(index=True)
    at = BigIntegerField()
    by = CharField(default="")


# -- chain mode (schema 11): the mirror's state, voucher claims and conflicts -----------------


class ChainCard(BaseModel):
    """Hub: a card seen in any shop, and whose it is."""

    code = CharField(primary_key=True)
    nfc_uid = CharField(null=True)
    member_ref = CharField()
    name = CharField(default="")
    home_box = CharField(max_length=36)
    updated_at = BigIntegerField()
    blocked_at = BigIntegerField(null=True)  # schema 17: blocked in its shop


class ChainClaim(BaseModel):
    """Hub: a voucher's one accepted redemption (the primary key decides the winner)."""

    voucher_code = CharField(primary_key=True)
    box_id = CharField(max_length=36)
    event_id = CharField(max_length=36)
    at = BigIntegerField()
    online = BooleanField()
    claimed_at = BigIntegerField()


class ChainConflict(BaseModel):
    """A redemption that lost to another shop's (hub: recorded; box: mirrored back)."""

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


class ChainDirty(BaseModel):
    """Hub: a card's or voucher's state to publish again (subject), since changed_at."""

    subject = CharField(primary_key=True)
    changed_at = BigIntegerField()


class ChainCardState(BaseModel):
    """Box: other shops' stamps on a card already applied here."""

    card_code = CharField(primary_key=True)
    remote_stamps = IntegerField(default=0)
    remote_visits = IntegerField(default=0)
    remote_last_at = BigIntegerField(null=True)
    updated_at = BigIntegerField()


class ChainBox(BaseModel):
    """Hub (schema 12): a provisioned box, its leaf node credentials."""

    box_id = CharField(max_length=36, primary_key=True)
    name = CharField()
    leaf_user = CharField(unique=True)
    leaf_password = CharField()
    created_at = BigIntegerField()
    retired_at = BigIntegerField(null=True)


class ChainMember(BaseModel):
    """Hub (schema 12): a box's member as its last member event described it."""

    member_ref = CharField(primary_key=True)
    box_id = CharField(max_length=36)
    payload = TextField()
    updated_at = BigIntegerField()
    erased_at = BigIntegerField(null=True)  # schema 17: erased in its shop


ALL_MODELS = [
    DeviceHealth,
    Program,
    RewardTier,
    Member,
    Card,
    StaffUser,
    Visit,
    Voucher,
    CounterEvent,
    Outbox,
    PrintJob,
    DeviceToken,
    AuditLog,
    Segment,
    Campaign,
    Automation,
    LoginAttempt,
    Consent,
    EnrolmentCode,
    Suppression,
    ShopSetting,
    WalletPass,
    WalletRegistration,
    WalletDirty,
    WalletMessage,
    Event,
    ChainInbox,
    ChainVisit,
    ChainVoucher,
    ChainRedemption,
    ChainCard,
    ChainClaim,
    ChainConflict,
    ChainDirty,
    ChainCardState,
    ChainBox,
    ChainMember,
]
