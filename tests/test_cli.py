"""The `stampbox` command line as scripts use it: JSON shapes and exit statuses."""

import json

import pytest

CONTRACT_KEYS = {"status", "message", "member", "card", "stamps_added", "vouchers", "unlocked"}


def js(proc):
    return json.loads(proc.stdout)


@pytest.fixture
def ready(stampbox):
    first = stampbox("init", "--json")
    assert first.returncode == 0, first.stderr
    return js(first)


def test_init_shows_the_owner_password_once(ready, stampbox):
    assert ready["owner"]["username"] == "owner" and len(ready["owner"]["password"]) >= 12
    again = js(stampbox("init", "--json"))
    assert again == {"data_dir": ready["data_dir"], "owner": None}


def test_enrol_tap_unlock_and_redeem_once(ready, stampbox):
    member = js(
        stampbox(
            "member",
            "add",
            "--name",
            "Anna",
            "--email",
            "anna@example.com",
            "--birthday",
            "03-14",
            "--card",
            "04A23B4C5D6E7F",
            "--json",
        )
    )
    assert member["id"] == 1 and member["birthday"] == "03-14"
    assert member["cards"][0]["nfc_uid"] == "04A23B4C5D6E7F"
    first = stampbox("tap", "04A23B4C5D6E7F", "--at", "2026-11-20T09:00:00Z", "--json")
    assert first.returncode == 0
    out = js(first)
    assert CONTRACT_KEYS <= out.keys()
    assert out["status"] == "stamped" and out["card"]["stamps"] == 1
    cool = stampbox("tap", "04A23B4C5D6E7F", "--at", "2026-11-20T09:10:00Z", "--json")
    assert cool.returncode == 0 and js(cool)["status"] == "cooldown"
    full = js(
        stampbox(
            "tap",
            member["cards"][0]["code"],
            "--at",
            "2026-11-21T09:00:00Z",
            "--stamps",
            "9",
            "--json",
        )
    )
    assert full["card"]["stamps"] == 0 and len(full["unlocked"]) == 1
    code = full["unlocked"][0]["code"]
    assert set(full["unlocked"][0]) == {"code", "kind", "reward", "valid_from", "valid_until"}
    ok = stampbox("redeem", code, "--at", "2026-11-22T09:00:00Z", "--json")
    assert ok.returncode == 0
    assert js(ok)["status"] == "redeemed" and js(ok)["reason"] is None
    again = stampbox("redeem", code, "--at", "2026-11-22T09:01:00Z", "--json")
    assert again.returncode == 3
    assert js(again)["status"] == "refused" and js(again)["reason"] == "already_redeemed"
    text = stampbox("redeem", code)
    assert text.returncode == 3 and "Already redeemed" in text.stderr


def test_unknown_card_exits_3_with_enrolment(ready, stampbox):
    proc = stampbox("tap", "04112233445566", "--json")
    assert proc.returncode == 3
    assert js(proc)["status"] == "unknown_card" and js(proc)["member"] is None


@pytest.mark.parametrize("token", ["", "\x07\x08", "x" * 700])
def test_bad_tokens_exit_2_with_a_sentence(ready, stampbox, token):
    proc = stampbox("tap", token)
    assert proc.returncode == 2
    assert proc.stderr.strip() and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("tap", "04A23B4C5D6E7F", "--at", "yesterday"), "ISO-8601"),
        (("tap", "04A23B4C5D6E7F", "--stamps", "0"), "stamps"),
        (("member", "add", "--birthday", "02-30"), "not a date"),
        (("member", "add", "--email", "nope"), "not an email"),
        (("member", "add", "--card", "08A1B2C3"), "phone or bank card"),
        (("program", "set", "--tier", "ten:coffee"), "not a tier"),
        (("redeem", "VXXX"), None),
        (("tap", "04A23B4C5D6E7F", "--amount", "inf"), "not an amount"),
        (("tap", "04A23B4C5D6E7F", "--amount", "4.505"), "at most 2 decimals"),
        (("tap", "04A23B4C5D6E7F", "--amount", "-1"), "out of range"),
    ],
)
def test_bad_usage_is_explained(ready, stampbox, args, needle):
    proc = stampbox(*args)
    assert proc.returncode in (2, 3)
    assert "Traceback" not in proc.stderr and proc.stderr.strip()
    if needle:
        assert proc.returncode == 2 and needle in proc.stderr


def test_a_card_cannot_belong_to_two_members(ready, stampbox):
    assert stampbox("member", "add", "--name", "A", "--card", "04A23B4C5D6E7F").returncode == 0
    proc = stampbox("member", "add", "--name", "B", "--card", "04:a2:3b:4c:5d:6e:7f")
    assert proc.returncode == 2 and "already belongs to A" in proc.stderr


def test_program_set_replaces_the_tiers(ready, stampbox):
    out = js(
        stampbox(
            "program",
            "set",
            "--tier",
            "5:Cookie",
            "--tier",
            "8:Coffee",
            "--voucher-days",
            "30",
            "--json",
        )
    )
    assert out["tiers"] == [{"stamps": 5, "reward": "Cookie"}, {"stamps": 8, "reward": "Coffee"}]
    assert out["voucher_days"] == 30 and out["stamps_needed"] == 8
    stampbox("member", "add", "--card", "04A23B4C5D6E7F")
    tap = js(stampbox("tap", "04A23B4C5D6E7F", "--stamps", "5", "--json"))
    assert tap["card"]["stamps_needed"] == 8 and tap["unlocked"][0]["reward"] == "Cookie"


def test_device_token_is_shown_once_and_names_are_unique(ready, stampbox):
    out = js(stampbox("device-token", "create", "pos-1", "--json"))
    assert out["token"].startswith("sbx_") and len(out["token"]) > 30
    again = stampbox("device-token", "create", "pos-1", "--json")
    assert again.returncode == 2
    assert js(stampbox("device-token", "revoke", "pos-1", "--json")) == {
        "name": "pos-1",
        "revoked": True,
    }
    assert stampbox("device-token", "revoke", "pos-1").returncode == 2


def test_a_bad_setting_stops_the_cli_with_a_sentence(ready, cli_env):
    import subprocess
    import sys

    env = {**cli_env, "STAMPBOX_STAMP_COOLDOWN_MINUTES": "lots"}
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "tap", "04A23B4C5D6E7F"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "STAMPBOX_STAMP_COOLDOWN_MINUTES" in proc.stderr and "Traceback" not in proc.stderr


def test_changes_are_written_to_the_audit_log(ready, stampbox, settings):
    import sqlite3

    stampbox("member", "add", "--name", "Anna", "--card", "04A23B4C5D6E7F")
    stampbox("program", "set", "--tier", "5:Cookie")
    code = js(stampbox("tap", "04A23B4C5D6E7F", "--stamps", "5", "--json"))["unlocked"][0]["code"]
    stampbox("redeem", code)
    con = sqlite3.connect(settings.db_path)
    rows = con.execute("SELECT actor, action FROM audit_log ORDER BY id").fetchall()
    assert rows == [
        ("system", "program.set"),
        ("system", "owner.create"),
        ("cli", "member.add"),
        ("cli", "program.set"),
        ("cli", "voucher.redeem"),
    ]
