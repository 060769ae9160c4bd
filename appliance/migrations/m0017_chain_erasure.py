"""Schema 17: erasure, blocks and replacements across a chain.

Centre: `chain_member.erased_at` (microseconds), so a card's state says its holder was erased
and a late event from before the erasure cannot bring a name or a chip UID back;
`chain_card.blocked_at`, so a card blocked in its shop is refused in every shop.
Box: `member.chain_ref` (the centre's member ref of a member the mirror made), so a
replacement card from another shop joins the member this shop already holds; and a trigger
that reports a deleted member (merged into another) as erased, so the centre's copy of its
personal data goes too.
"""

# frozen copies of schema 12's expressions (a migration does not import today's code)
_UUID = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'"
    " || substr(lower(hex(randomblob(2))), 2) || '-'"
    " || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)"
    " || '-' || lower(hex(randomblob(6)))"
)
_NOW_US = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
_BOX = "(SELECT value FROM shop_setting WHERE key = 'box_id')"
_MEMBER_DELETED = (
    "CREATE TRIGGER chain_member_deleted AFTER DELETE ON member FOR EACH ROW"
    " WHEN OLD.consent_source <> 'chain' BEGIN"
    " INSERT INTO event (uuid, box_id, type, payload, schema_version, created_at)"
    f" VALUES ({_UUID}, {_BOX}, 'erase', json_object('member', json_object('id', OLD.id),"
    f" 'cards', json_array(), 'at', {_NOW_US}), 1, {_NOW_US}); END"
)

VERSION = 17


def upgrade(db):
    db.execute_sql("ALTER TABLE chain_member ADD COLUMN erased_at BIGINT")
    db.execute_sql("ALTER TABLE chain_card ADD COLUMN blocked_at BIGINT")
    db.execute_sql("ALTER TABLE member ADD COLUMN chain_ref VARCHAR(80)")
    db.execute_sql(
        "CREATE INDEX member_chain_ref ON member (chain_ref) WHERE chain_ref IS NOT NULL"
    )
    if db.param == "?":  # boxes are SQLite; PostgreSQL sends no events (as in schema 12)
        db.execute_sql(_MEMBER_DELETED)
