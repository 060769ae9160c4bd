"""First boot: `stampbox init --setup-slip` queues one setup slip with what the owner needs."""

import json
import sqlite3


def test_first_boot_queues_one_setup_slip_with_login_qr_and_fingerprint(
    stampbox, cli_env, settings
):
    first = stampbox("init", "--setup-slip", "--json")
    assert first.returncode == 0, first.stderr
    info = json.loads(first.stdout)
    assert info["setup_slip_job"] >= 1
    again = json.loads(stampbox("init", "--setup-slip", "--json").stdout)
    assert again["owner"] is None and "setup_slip_job" not in again
    con = sqlite3.connect(settings.db_path)
    jobs = con.execute("SELECT document, state FROM print_job").fetchall()
    con.close()
    assert len(jobs) == 1 and jobs[0][1] == "pending"
    slip = json.loads(jobs[0][0])
    assert slip["kind"] == "setup"
    text = json.dumps(slip)
    assert f"Password: {info['owner']['password']}" in text
    assert "you choose your own password at the first login" in text
    assert {"kind": "qr", "data": "http://stampbox.local/login"}.items() <= next(
        b for b in slip["blocks"] if b.get("kind") == "qr"
    ).items()
    fingerprint = json.loads(stampbox("tls", "init", "--json").stdout)["fingerprint_sha256"]
    assert f"HTTPS SHA-256: {fingerprint}" in text
