"""`stampbox chain status|relay` on a box and `stampbox hub` on PostgreSQL, as subprocesses."""

import json
import os
import subprocess
import sys
from datetime import timedelta

from appliance import box as box_mod
from appliance.chain import box_id
from appliance.counter import handle
from appliance.members import add_member

from ..conftest import ROOT, T0

BOXES_ON_SQLITE = True  # only the centre is on PostgreSQL (conftest)


def _stampbox(env, *args):
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli", *args, "--json"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_relay_and_hub_commands_carry_taps_into_postgresql(
    box,
    cli_env,
    box_nats,
    hub_nats,
    pg_url,
    tmp_path,
):
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    for i in range(3):
        handle("04A23B4C5D6E7F", "t", now=T0 + timedelta(hours=i))
    me = box_id(box.db)
    box_mod.stop()
    before = _stampbox(cli_env, "chain", "status")
    assert before["pending_events"] == 5 and before["box_id"] == me  # enrolment: 2
    assert before["last_sent_at"] is None and before["lag_seconds"] >= 0
    assert _stampbox(cli_env, "chain", "relay", "--nats", box_nats.url, "--once")["published"] == 5
    ran = _stampbox(cli_env, "chain", "run", "--nats", box_nats.url, "--once")
    assert ran == {"published": 0, "applied": 0}  # nothing left; no centre state yet
    after = _stampbox(cli_env, "chain", "status")
    assert after["pending_events"] == 0 and after["last_sent_at"] is not None
    hub_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STAMPBOX_")},
        "STAMPBOX_DATA_DIR": str(tmp_path / "hub"),
        "STAMPBOX_DATABASE_URL": pg_url,
    }
    stats = _stampbox(hub_env, "hub", "--nats", hub_nats.url, "--box", me, "--idle-seconds", "5")
    assert stats == {"applied": 5, "absorbed": 0, "refused": 0}
