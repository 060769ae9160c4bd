"""`stampbox staff`: add an account, list them, and let a locked-out owner back in."""

from __future__ import annotations

import json

from appliance.staff import MAX_FAILS_PER_ACCOUNT, login


def test_a_staff_account_is_added_with_a_generated_password(init_info, stampbox):
    added = stampbox("staff", "add", "Barista", "--json")
    assert added.returncode == 0, added.stderr
    data = json.loads(added.stdout)
    assert data["username"] == "barista" and data["role"] == "staff"
    assert login("barista", data["password"], "10.0.0.1").user.role == "staff"
    listed = json.loads(stampbox("staff", "list", "--json").stdout)["staff"]
    assert {"username": "barista", "role": "staff"} in listed
    again = stampbox("staff", "add", "barista")
    assert again.returncode == 3 and "already an account" in again.stdout + again.stderr


def test_a_locked_out_owner_gets_a_new_password(init_info, stampbox):
    for _ in range(MAX_FAILS_PER_ACCOUNT):
        login("owner", "guess", "10.0.0.2")
    assert login("owner", init_info["owner"]["password"], "10.0.0.2").throttled
    reset = stampbox("staff", "reset-password", "owner", "--json")
    assert reset.returncode == 0, reset.stderr
    new = json.loads(reset.stdout)["password"]
    assert login("owner", new, "10.0.0.2").user is not None
    assert login("owner", init_info["owner"]["password"], "10.0.0.3").user is None
