"""Schema 9: staff accounts whose password someone else chose must change it at next login.

Set for the first-boot owner (the one-time password on the setup slip) and for accounts an
owner or the command line created or reset for someone else.
"""

VERSION = 9


def upgrade(db):
    db.execute_sql(
        "ALTER TABLE staff_user ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE"
    )
