"""`stampbox wallet setup` and `stampbox wallet status`: the admin's checked setup for scripts."""

from __future__ import annotations

import json
import stat

import pytest

from appliance.settings import load_settings
from appliance.wallet.setup import upload_path
from tests.fixtures.wallet.google_peer import service_account_key
from tests.fixtures.wallet.pki import PASS_TYPE_ID, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_setup_stores_checked_files_and_status_reports_them(init_info, stampbox, pki, tmp_path):
    other = make_pki(tmp_path / "other", "pass.com.other.cafe", "OTHER12345")
    run = stampbox("wallet", "status", "--json")
    assert run.returncode == 3
    assert "STAMPBOX_APPLE_CERT is empty" in json.loads(run.stdout)["apple"]["problem"]

    files = ["--cert", str(pki.paths["cert"]), "--wwdr", str(pki.paths["wwdr"])]
    refused = stampbox("wallet", "setup", *files, "--key", str(other.paths["key"]))
    assert refused.returncode == 3
    assert "The private key does not belong to this certificate" in refused.stdout

    account, _ = service_account_key("http://127.0.0.1:9/token")
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(account))
    run = stampbox("wallet", "setup", *files, "--key", str(pki.paths["key"]),
                   "--google-key", str(key), "--issuer-id", "3388000000012345678",
                   "--json")  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["done"][0] == "identifiers"
    settings = load_settings(environ={}, data_dir=init_info["data_dir"])
    for name in ("apple_cert", "apple_key", "apple_wwdr", "google_service_account"):
        assert stat.S_IMODE(upload_path(settings, name).stat().st_mode) == 0o600

    status = json.loads(stampbox("wallet", "status", "--json").stdout)
    assert status["apple"]["ready"] and status["apple"]["pass_type_id"] == PASS_TYPE_ID
    assert status["google"] == {"ready": True, "issuer_id": "3388000000012345678",
                                "client_email": account["client_email"]}  # fmt: skip
    assert status["apple_updates"] is False  # http://stampbox.local: passes stay static
    text = stampbox("wallet", "status").stdout
    assert "Apple passes stay static" in text
