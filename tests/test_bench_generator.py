"""The bench's synthetic shop is reproducible, consistent, and tappable by the real counter."""

import sqlite3
from datetime import UTC, datetime

from appliance import box as box_mod
from appliance import codes
from appliance.counter import handle
from appliance.settings import load_settings
from bench.generate import ShopSpec, build_shop, check_shop


def _rows(path):
    with sqlite3.connect(path) as con:
        return [
            con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("member", "card", "visit", "voucher")
        ]


def test_generated_shop_is_reproducible_consistent_and_tappable(tmp_path):
    spec = ShopSpec(members=200, visits=2000, seed=3)
    build_shop(spec, tmp_path / "a")
    build_shop(spec, tmp_path / "b")
    db = tmp_path / "a" / "stampbox.db"
    assert check_shop(db) == []
    assert _rows(db) == _rows(tmp_path / "b" / "stampbox.db")
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM visit").fetchone()[0] == 2000
        uid, code = con.execute("SELECT nfc_uid, code FROM card WHERE id = 1").fetchone()
    key = bytes.fromhex((tmp_path / "a" / "secrets" / "code_key").read_text())
    assert codes.parse_code(key, code) == ("C", code)
    box = box_mod.start(load_settings(environ={}, data_dir=tmp_path / "a", timezone="UTC"))
    try:
        result = handle(uid, "test", now=datetime(2026, 11, 2, 9, tzinfo=UTC), box=box)
    finally:
        box_mod.stop()
    assert result.status == "stamped"
