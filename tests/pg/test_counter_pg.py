"""The counter's tests, unchanged, on PostgreSQL."""

from tests.test_counter import *  # noqa: F403
