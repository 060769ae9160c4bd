"""tests/test_import.py, unchanged, on PostgreSQL."""

from tests.test_import import *  # noqa: F403
