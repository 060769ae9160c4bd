"""tests/test_vouchers.py, unchanged, on PostgreSQL."""

from tests.test_vouchers import *  # noqa: F403
