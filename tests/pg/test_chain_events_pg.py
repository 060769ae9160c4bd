"""tests/test_chain_events.py, unchanged, on PostgreSQL."""

from tests.test_chain_events import *  # noqa: F403
