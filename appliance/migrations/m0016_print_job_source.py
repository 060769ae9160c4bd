"""Schema 16: a print job may carry a source key, so a slip that must print once (a birthday
gift's, at the first tap that finds it) is queued once however often it is asked for."""

VERSION = 16


def upgrade(db):
    db.execute_sql("ALTER TABLE print_job ADD COLUMN source_key VARCHAR(255)")
    db.execute_sql(
        "CREATE UNIQUE INDEX print_job_source_key ON print_job (source_key)"
        " WHERE source_key IS NOT NULL"
    )
