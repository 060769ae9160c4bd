"""tests/test_campaigns.py, unchanged, on PostgreSQL."""

from tests.test_campaigns import *  # noqa: F403
