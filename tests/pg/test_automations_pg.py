"""tests/test_automations.py, unchanged, on PostgreSQL."""

from tests.test_automations import *  # noqa: F403
