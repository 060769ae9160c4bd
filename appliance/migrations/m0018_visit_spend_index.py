"""Schema 18: a covering index on visit (member_id, at, amount_cents).

top-customers sums each member's spend over a window of visits. Through `visit_at` SQLite
sorts the window's visits by member in a temporary B-tree, which spills out of the box's
16 MB page cache on a large shop and grows faster than the data (bench/README.md). Through
this index the GROUP BY member_id reads the visits already in member order, with the
amount in the index: one pass, no sort, no table lookups.
"""

VERSION = 18


def upgrade(db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "visit_member_id_at_amount_cents"'
        ' ON "visit" ("member_id", "at", "amount_cents")'
    )
