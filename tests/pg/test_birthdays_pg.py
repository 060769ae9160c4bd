"""tests/test_birthdays.py, unchanged, on PostgreSQL."""

from tests.test_birthdays import *  # noqa: F403
