"""tests/test_read_lists.py on PostgreSQL: the same lists through json_agg."""

from tests.test_read_lists import *  # noqa: F403
