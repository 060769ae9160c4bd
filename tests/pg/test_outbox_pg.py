"""tests/test_outbox.py, unchanged, on PostgreSQL."""

from tests.test_outbox import *  # noqa: F403
