"""Schema 17: erasure, blocks and replacements across a chain.

Centre: `chain_member.erased_at` (microseconds), so a card's state says its holder was erased
and a late event from before the erasure cannot bring a name or a chip UID back;
`chain_card.blocked_at`, so a card blocked in its shop is refused in every shop.
Box: `member.chain_ref` (the centre's member ref of a member the mirror made), so a
replacement card from another shop joins the member this shop already holds.
"""

VERSION = 17


def upgrade(db):
    db.execute_sql("ALTER TABLE chain_member ADD COLUMN erased_at BIGINT")
    db.execute_sql("ALTER TABLE chain_card ADD COLUMN blocked_at BIGINT")
    db.execute_sql("ALTER TABLE member ADD COLUMN chain_ref VARCHAR(80)")
    db.execute_sql(
        "CREATE INDEX member_chain_ref ON member (chain_ref) WHERE chain_ref IS NOT NULL"
    )
