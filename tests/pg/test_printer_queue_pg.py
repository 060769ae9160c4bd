"""tests/test_printer_queue.py, unchanged, on PostgreSQL."""

from tests.test_printer_queue import *  # noqa: F403
