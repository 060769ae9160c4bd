"""tests/test_admin_birthdays.py, unchanged, on PostgreSQL."""

from tests.test_admin_birthdays import *  # noqa: F403
