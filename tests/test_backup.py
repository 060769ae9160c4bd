"""Backups: consistent while the box taps on, rotated, and restored into the running box."""

import json
import sqlite3
import tarfile
from datetime import timedelta

import pytest

from appliance.backup import BackupError, list_backups, restore_backup, rotate, take_backup
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import AuditLog, Member, Visit

from .conftest import T0
from .test_concurrency import _spawn


def _visits(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT COUNT(*) FROM visit").fetchone()[0]
    finally:
        con.close()


@pytest.mark.slow
def test_backup_and_restore_round_trip_while_another_process_keeps_tapping(box, tmp_path):
    uids = [f"04{i:012X}" for i in range(1, 21)]
    for uid in uids:
        add_member(f"M{uid}", card_uid=uid)
    tapper = _spawn(box.settings.data_dir, "burst", ",".join(uids))
    try:
        lines = iter(tapper.stdout)
        for _ in range(50):
            next(lines)
        info = take_backup(box.settings, now=T0)
        for _ in range(50):
            next(lines)  # the box kept stamping during and after the backup
        with tarfile.open(info.path) as tar:
            names = set(tar.getnames())
            tar.extract("stampbox.db", tmp_path, filter="data")
        assert {"stampbox.db", "secrets/code_key"} <= names
        backed_up = _visits(tmp_path / "stampbox.db")
        assert backed_up >= 50
        assert sqlite3.connect(tmp_path / "stampbox.db").execute(
            "PRAGMA integrity_check"
        ).fetchone() == ("ok",)

        # a member enrolled after the backup is not in it: the restore takes it away
        add_member("After the backup", card_uid="04FFFFFFFFFFFF")
        result = restore_backup(box.settings, info.path, now=T0 + timedelta(minutes=1))
        assert result["secrets_changed"] is False
        con = sqlite3.connect(box.settings.db_path)
        names = {row[0] for row in con.execute("SELECT name FROM member")}
        con.close()
        assert "After the backup" not in names and len(names) == len(uids)
        # the tapping process never noticed: its next taps land on the restored data (their
        # event ids restart from the backup's, which is how the restore shows in its output)
        last = json.loads(next(lines))["event_id"]
        for line in lines:
            current = json.loads(line)["event_id"]
            if current < last:
                break
            last = current
        after = [json.loads(next(lines)) for _ in range(30)]
        assert {a["status"] for a in after} == {"stamped"}
        con = sqlite3.connect(box.settings.db_path)
        ids = {row[0] for row in con.execute("SELECT id FROM counter_event")}
        con.close()
        assert {a["event_id"] for a in after} <= ids
    finally:
        tapper.kill()
        tapper.wait(timeout=10)
    # the safety backup holds what was there just before the restore
    assert _visits_in(result["safety_backup"], tmp_path / "safety") > backed_up


def _visits_in(archive, folder):
    with tarfile.open(archive) as tar:
        tar.extract("stampbox.db", folder, filter="data")
    return _visits(folder / "stampbox.db")


def test_restore_brings_back_deleted_members_and_is_audited(box):
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    handle("04A23B4C5D6E7F", "t", now=T0)
    info = take_backup(box.settings, now=T0)
    Visit.delete().execute()
    Member.delete().execute()
    restore_backup(box.settings, info.path, now=T0 + timedelta(hours=1))
    assert Member.get().name == "Anna" and Visit.select().count() == 1
    assert handle("04A23B4C5D6E7F", "t", now=T0 + timedelta(hours=2)).card["stamps"] == 2
    assert "backup.restore" in {a.action for a in AuditLog.select()}


def test_a_replacement_box_gets_the_secrets_back(box, tmp_path):
    code = add_member("Anna", now=T0)["cards"][0]["code"]
    info = take_backup(box.settings, now=T0)
    (box.settings.secrets_dir / "code_key").write_text("00" * 32)
    result = restore_backup(box.settings, info.path, now=T0)
    assert result["secrets_changed"] is True
    assert (box.settings.secrets_dir / "code_key").read_text() != "00" * 32
    assert code  # the printed card verifies again once the services reload the key


@pytest.mark.parametrize("content", [b"not a tar", "no-db", "evil-path"])
def test_a_file_that_is_not_a_backup_is_refused_and_changes_nothing(box, tmp_path, content):
    add_member("Anna", now=T0)
    bad = tmp_path / "bad.tar"
    if content == "no-db":
        with tarfile.open(bad, "w") as tar:
            (tmp_path / "x").write_text("x")
            tar.add(tmp_path / "x", arcname="x")
    elif content == "evil-path":
        with tarfile.open(bad, "w") as tar:
            (tmp_path / "x").write_text("x")
            tar.add(tmp_path / "x", arcname="../../etc/evil")
    else:
        bad.write_bytes(content)
    with pytest.raises(BackupError):
        restore_backup(box.settings, bad, now=T0)
    assert Member.get().name == "Anna"


def test_rotation_keeps_seven_days_and_four_weeks(box, tmp_path):
    for day in range(40):
        for hour in (1, 13):
            take_backup(box.settings, tmp_path, now=T0 - timedelta(days=day, hours=hour))
    rotate(tmp_path)
    kept = sorted(b.taken_at for b in list_backups(tmp_path))
    days = {b.date() for b in kept}
    assert len(kept) == len(days)  # the newest of each kept day only
    newest = max(kept).date()
    assert {newest - timedelta(days=d) for d in range(7)} <= days
    assert len(kept) <= 7 + 4 and min(kept).date() <= newest - timedelta(days=14)


def test_the_cli_backs_up_lists_and_restores(box, stampbox, tmp_path):
    add_member("Anna", now=T0)
    made = json.loads(stampbox("backup", "--json").stdout)
    listed = json.loads(stampbox("backups", "--json").stdout)["backups"]
    assert [b["path"] for b in listed] == [made["path"]]
    restored = stampbox("restore", made["path"], "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored"] == made["path"]
    bad = stampbox("restore", str(tmp_path / "missing.tar"))
    assert bad.returncode == 2 and "not a Stampbox backup" in bad.stderr
