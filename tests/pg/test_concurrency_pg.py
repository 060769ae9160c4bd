"""Several processes on one PostgreSQL database: one stamp per card, one redemption per voucher.

PostgreSQL runs writers truly in parallel (READ COMMITTED): two taps both read the card,
both try the guarded UPDATE, the second waits for the first's commit, then matches no row
and handle() re-reads and answers "cooldown". SQLite's write lock never gets that far.
"""

import json
import signal
import subprocess
import sys

import pytest

from appliance.counter import handle
from appliance.members import add_member
from appliance.models import Member, Visit, Voucher

from ..conftest import ROOT

PROCESSES = 6


def _spawn(cli_env, action, token, go_file, cooldown=30):
    env = {**cli_env, "PYTHONPATH": str(ROOT), "STAMPBOX_STAMP_COOLDOWN_MINUTES": str(cooldown)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.pg.worker", action, token, str(go_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _together(cli_env, tmp_path, action, token):
    # one go file per round: the three cards share their first 8 symbols, and a go file left
    # by an earlier round let the next round's workers run before they were all ready
    go = tmp_path / f"go-{action}-{token}"
    procs = [_spawn(cli_env, action, token, go) for _ in range(PROCESSES)]
    go.touch()  # every worker is connected and waiting: release them at once
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


@pytest.mark.slow
def test_processes_tapping_one_card_together_add_exactly_one_stamp(box, cli_env, tmp_path):
    uids = [f"04A23B4C5D6E{i:02X}" for i in range(3)]
    for uid in uids:
        add_member("Anna", card_uid=uid)
    for uid in uids:
        statuses = sorted(r["status"] for r in _together(cli_env, tmp_path, "tap", uid))
        assert statuses == ["cooldown"] * (PROCESSES - 1) + ["stamped"]
    assert [m.stamps for m in Member.select()] == [1, 1, 1]
    assert Visit.select().count() == 3


@pytest.mark.slow
def test_processes_redeeming_one_voucher_together_succeed_once(box, cli_env, tmp_path):
    add_member("Anna", card_uid="04A23B4C5D6E7F")
    code = handle("04A23B4C5D6E7F", "test", stamps=10).unlocked[0]["code"]
    results = _together(cli_env, tmp_path, "redeem", code)
    assert sorted(r["status"] for r in results) == ["redeemed"] + ["refused"] * (PROCESSES - 1)
    assert {r["reason"] for r in results if r["status"] == "refused"} == {"already_redeemed"}
    assert Voucher.get().redeemed_at is not None


@pytest.mark.slow
def test_sigkill_in_a_burst_of_taps_keeps_every_acknowledged_tap(box, cli_env, tmp_path):
    uids = [f"04{i:012X}" for i in range(1, 41)]
    for uid in uids:
        add_member(f"M{uid}", card_uid=uid)
    acked = []
    for round_, kill_after in enumerate((60, 97)):
        go = tmp_path / f"go-burst-{round_}"
        proc = _spawn(cli_env, "burst", ",".join(uids), go, cooldown=0)
        go.touch()
        for count, line in enumerate(proc.stdout, start=1):
            acked.append(json.loads(line))
            if count == kill_after:
                break
        proc.send_signal(signal.SIGKILL)  # mid-burst: it is taking its next tap
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert {a["status"] for a in acked} == {"stamped"}
    db = box.db
    event_ids = {row[0] for row in db.execute_sql("SELECT id FROM counter_event")}
    assert [a for a in acked if a["event_id"] not in event_ids] == []
    visits = dict(db.execute_sql("SELECT member_id, COUNT(*) FROM visit GROUP BY member_id"))
    for member_id, stamps, rounds in db.execute_sql("SELECT id, stamps, rounds FROM member"):
        assert stamps + 10 * rounds == visits.get(member_id, 0)
    # only the tap in flight at each kill may be committed without its acknowledgement
    assert len(acked) <= sum(visits.values()) <= len(acked) + 2
