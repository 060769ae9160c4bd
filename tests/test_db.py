"""The shop database's durability settings and the worker's WAL checkpoint."""

from appliance.counter import handle
from appliance.db import checkpoint_wal
from appliance.members import add_member

from .conftest import T0


def test_the_shop_database_runs_wal_with_full_sync(box):
    pragma = lambda name: box.db.execute_sql(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL: an acknowledged stamp survives a power cut
    assert pragma("foreign_keys") == 1
    assert pragma("wal_autocheckpoint") == 10_000


def test_checkpoint_copies_every_committed_page_back(box):
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    handle("04A23B4C5D6E7F", "t", now=T0)
    busy, wal_pages, done = checkpoint_wal(box.db)
    assert busy == 0 and wal_pages > 0 and done == wal_pages
