"""Schema 17: the centre remembers which members were erased in their shop (`chain_member`'s
`erased_at`, microseconds), so a card's state says so to every shop and a late event from
before the erasure cannot bring a name or a chip UID back."""

VERSION = 17


def upgrade(db):
    db.execute_sql("ALTER TABLE chain_member ADD COLUMN erased_at BIGINT")
