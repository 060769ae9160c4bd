"""tests/test_web_counter.py, unchanged, on PostgreSQL."""

from tests.test_web_counter import *  # noqa: F403
