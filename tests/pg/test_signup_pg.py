"""tests/test_signup.py, unchanged, on PostgreSQL."""

from tests.test_signup import *  # noqa: F403
