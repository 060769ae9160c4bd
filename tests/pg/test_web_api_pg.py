"""tests/test_web_api.py, unchanged, on PostgreSQL."""

from tests.test_web_api import *  # noqa: F403
