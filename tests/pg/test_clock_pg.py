"""tests/test_clock.py, unchanged, on PostgreSQL."""

from tests.test_clock import *  # noqa: F403
