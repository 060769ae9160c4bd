"""Schema 19: one index on visit (member_id, at, amount_cents, stamps, source) for three.

The member page lists a member's latest visits: through (member_id, at, amount_cents) each
row's stamps and source were read from the table, one page of a 2-million-row table per
visit (24 µs of the page's 55 µs in SQLite on the 100k shop, bench/README.md). With them
in the index the list is read from the index alone.

The new index begins with every column of the three it replaces — (member_id),
(member_id, at) and schema 18's (member_id, at, amount_cents) — so each of their queries
(a member's visits, top-customers' spend per member, the foreign key's cascade) uses it
as it used them, and the box writes one index instead of three on every stamp: 2M visits
took 106 MB in those three and take 62 MB in this one.
"""

VERSION = 19

_REPLACED = ("visit_member_id", "visit_member_id_at", "visit_member_id_at_amount_cents")


def upgrade(db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "visit_member_history"'
        ' ON "visit" ("member_id", "at", "amount_cents", "stamps", "source")'
    )
    for name in _REPLACED:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
