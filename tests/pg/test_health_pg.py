"""tests/test_health.py on PostgreSQL (the backup it takes is SQLite's: that one stays out)."""

from tests.test_health import *  # noqa: F403
from tests.test_health import test_a_running_box_with_a_waiting_message_and_a_backup

# backups cover the embedded SQLite database only (PostgreSQL has pg_dump)
del test_a_running_box_with_a_waiting_message_and_a_backup
