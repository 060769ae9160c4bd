"""Schema 12: the centre's register of boxes, its members, and the box's member events.

`stampbox chain provision` adds a box; the hub sources each registered box's event stream and
writes the leaf node credentials into its nats-server configuration. The leaf password is
kept as given (nats-server's configuration needs it, or a bcrypt hash we cannot make here).
`chain_member` is the centre's copy of each box's members (from their events).

On a box (SQLite), triggers write an event row for every enrolment, member change and card
change, in the changing statement's own transaction, whichever code path made it (admin,
signup, import, CLI). They watch only the personal and consent columns: a tap's UPDATE of the
counters fires nothing. Rows the chain mirror made (consent_source/label 'chain') are not
sent back.
"""

from peewee import BigIntegerField, CharField, Model, TextField

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

    class ChainMember(Model):
        member_ref = CharField(primary_key=True)
        box_id = CharField(max_length=36)
        payload = TextField()
        updated_at = BigIntegerField()

        class Meta:
            database = db
            legacy_table_names = False

    return [ChainBox, ChainMember]


_UUID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'"
    " || substr(lower(hex(randomblob(2))), 2) || '-'"
    " || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)"
    " || '-' || lower(hex(randomblob(6)))"
)
_NOW_US = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
_BOX = "(SELECT value FROM shop_setting WHERE key = 'box_id')"
_MEMBER_COLUMNS = (
    "name, email, phone, birthday_month, birthday_day, birthday_year, locale, external_id,"
    " email_consent_at, sms_consent_at, email_unsubscribed_at, sms_unsubscribed_at, erased_at"
)
_MEMBER_PAYLOAD = (
    "json_object('member', json_object('id', NEW.id, 'external_id', NEW.external_id,"
    " 'name', NEW.name, 'email', NEW.email, 'phone', NEW.phone,"
    " 'birthday', json_array(NEW.birthday_month, NEW.birthday_day, NEW.birthday_year),"
    " 'locale', NEW.locale, 'email_consent_at', NEW.email_consent_at,"
    " 'sms_consent_at', NEW.sms_consent_at, 'email_unsubscribed_at', NEW.email_unsubscribed_at,"
    " 'sms_unsubscribed_at', NEW.sms_unsubscribed_at, 'erased_at', NEW.erased_at))"
)
_CARD_PAYLOAD = (
    "json_object('card', NEW.code, 'nfc_uid', NEW.nfc_uid, 'blocked_at', NEW.blocked_at,"
    " 'member', json_object('id', NEW.member_id,"
    " 'name', (SELECT name FROM member WHERE id = NEW.member_id)))"
)


def _trigger(name: str, when: str, type_: str, payload: str, condition: str) -> str:
    return (
        f"CREATE TRIGGER {name} AFTER {when} FOR EACH ROW WHEN {condition} BEGIN"
        " INSERT INTO event (uuid, box_id, type, payload, schema_version, created_at)"
        f" VALUES ({_UUID}, {_BOX}, '{type_}', {payload}, 1, {_NOW_US}); END"
    )


def upgrade(db):
    db.create_tables(frozen_models(db))
    if db.param != "?":
        return  # PostgreSQL is the centre (or one big shop): it sends no events
    member = "NEW.consent_source <> 'chain'"
    card = "NEW.label <> 'chain'"
    for statement in (
        _trigger("chain_member_added", "INSERT ON member", "member", _MEMBER_PAYLOAD, member),
        _trigger(
            "chain_member_changed", f"UPDATE OF {_MEMBER_COLUMNS} ON member", "member",
            _MEMBER_PAYLOAD, member,
        ),
        _trigger("chain_card_added", "INSERT ON card", "card", _CARD_PAYLOAD, card),
        _trigger(
            "chain_card_changed", "UPDATE OF member_id, nfc_uid, blocked_at ON card", "card",
            _CARD_PAYLOAD, card,
        ),
    ):  # fmt: skip
        db.execute_sql(statement)
