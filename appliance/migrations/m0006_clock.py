"""Schema 6: visits remember whether the box's clock was synchronised when they were stamped."""

VERSION = 6


def upgrade(db):
    db.execute_sql("ALTER TABLE visit ADD COLUMN clock_synced BOOLEAN NOT NULL DEFAULT TRUE")
