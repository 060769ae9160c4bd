"""tests/test_segments.py, unchanged, on PostgreSQL."""

from tests.test_segments import *  # noqa: F403
