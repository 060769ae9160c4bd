"""Apple Wallet .pkpass: content, pictures, manifest and a CMS signature openssl verifies."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from datetime import timedelta

import pytest
from PIL import Image

from appliance.counter import handle
from appliance.members import add_member
from appliance.wallet import check_pkpass, make_apple_pass
from appliance.wallet.apple import build_pkpass, manifest
from appliance.wallet.check import verify_cms
from tests.conftest import T0
from tests.fixtures.wallet.pki import PASS_TYPE_ID, TEAM_ID, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def member(box):
    m = add_member("Dana", "dana@example.com", card_uid="04A1B2C3D4E5F6", now=T0)
    return m


def _files(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _openssl_verify(tmp_path, pki, manifest_bytes, signature) -> subprocess.CompletedProcess:
    (tmp_path / "manifest.json").write_bytes(manifest_bytes)
    (tmp_path / "signature").write_bytes(signature)
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
         "-in", tmp_path / "signature", "-content", tmp_path / "manifest.json",
         "-CAfile", pki.paths["root"], "-out", "/dev/null"],
        capture_output=True, text=True,
    )  # fmt: skip


def test_a_stamp_card_pass_verifies_with_openssl_against_the_test_chain(box, member, pki, tmp_path):
    for i in range(7):
        handle("04A1B2C3D4E5F6", now=T0 + timedelta(hours=i))
    data, record = make_apple_pass(box, member["id"], now=T0, signer=pki.signer())
    files = _files(data)
    run = _openssl_verify(tmp_path, pki, files["manifest.json"], files["signature"])
    assert run.returncode == 0, run.stderr
    assert "Verification successful" in run.stderr
    assert check_pkpass(data, root=pki.root, now=T0) == []

    content = json.loads(files["pass.json"])
    assert content["passTypeIdentifier"] == PASS_TYPE_ID
    assert content["teamIdentifier"] == TEAM_ID
    assert content["serialNumber"] == record.serial
    card_code = box.db.execute_sql("SELECT code FROM card").fetchone()[0]
    assert content["barcodes"][0]["message"] == card_code
    assert content["barcodes"][0]["format"] == "PKBarcodeFormatQR"
    fields = {f["key"]: f for f in content["storeCard"]["headerFields"]}
    fields.update({f["key"]: f for f in content["storeCard"]["backFields"]})
    assert fields["stamps"]["value"] == "7 / 10"
    assert fields["status"]["value"] == "You have 7 stamps — 3 to free coffee"
    assert "%@" in fields["stamps"]["changeMessage"]
    # the manifest names every other file with its SHA-1
    names = set(files) - {"manifest.json", "signature"}
    assert set(json.loads(files["manifest.json"])) == names
    assert {
        "icon.png",
        "icon@2x.png",
        "icon@3x.png",
        "strip@3x.png",
        "en.lproj/pass.strings",
    } <= names
    assert Image.open(io.BytesIO(files["icon@2x.png"])).size == (58, 58)


def test_the_strip_shows_the_current_count(box, member, pki):
    before, _ = make_apple_pass(box, member["id"], now=T0, signer=pki.signer())
    handle("04A1B2C3D4E5F6", now=T0)
    after, _ = make_apple_pass(box, member["id"], now=T0, signer=pki.signer())
    assert _files(before)["strip.png"] != _files(after)["strip.png"]
    assert _files(before)["icon.png"] == _files(after)["icon.png"]


def test_a_tampered_pass_fails_verification(box, member, pki, tmp_path):
    data, _ = make_apple_pass(box, member["id"], now=T0, signer=pki.signer())
    files = _files(data)
    # the manifest changed by one byte: the signature no longer matches
    bad_manifest = files["manifest.json"].replace(b'"icon.png": "', b'"icon.png": "0', 1)[:-1]
    run = _openssl_verify(tmp_path, pki, bad_manifest + b"}", files["signature"])
    assert run.returncode != 0
    # a changed pass.json whose manifest entry was not updated
    files["pass.json"] = files["pass.json"].replace(b"Stampbox", b"Stampb0x")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    problems = check_pkpass(out.getvalue(), root=pki.root, now=T0)
    assert any("pass.json" in p for p in problems)


def test_a_manifest_with_a_newline_is_signed_as_binary(pki):
    files = {"pass.json": b"{}", "icon.png": b"x"}
    body = manifest(files)
    assert b"\n" in body
    data = build_pkpass(files, pki.signer())
    signed = _files(data)
    assert verify_cms(signed["manifest.json"], signed["signature"], pki.root) == []


def test_a_pass_from_another_chain_is_refused(box, member, pki, tmp_path):
    other = make_pki(tmp_path / "other")
    data, _ = make_apple_pass(box, member["id"], now=T0, signer=other.signer())
    problems = check_pkpass(data, root=pki.root, now=T0)
    assert any("chain" in p for p in problems)


def test_identifiers_must_match_the_certificate(box, member, pki, tmp_path):
    wrong = make_pki(tmp_path / "wrong", pass_type_id="pass.other.id")
    signer = pki.signer()
    from appliance.wallet import AppleSigner

    # a key and certificate for another pass type: pass.json takes the id from the signer,
    # so a bundle built by hand with a stale id is what the check must catch
    data, _ = make_apple_pass(box, member["id"], now=T0, signer=signer)
    files = _files(data)
    content = json.loads(files["pass.json"])
    content["passTypeIdentifier"] = "pass.other.id"
    content["authenticationToken"] = "short"
    content["webServiceURL"] = "http://shop.example"
    content["backgroundColor"] = "#3c2415"
    content["locations"] = [{"latitude": 95.0, "longitude": 13.4}]
    files = {n: b for n, b in files.items() if n not in ("manifest.json", "signature")}
    files["pass.json"] = json.dumps(content).encode()
    files["icon.png"] = files["icon@2x.png"]
    rebuilt = build_pkpass(files, AppleSigner(signer.cert, signer.key, signer.wwdr))
    problems = " | ".join(check_pkpass(rebuilt, root=pki.root, now=T0))
    assert "passTypeIdentifier does not match" in problems
    assert "at least 16 characters" in problems
    assert "must be https" in problems
    assert "icon.png is 58x58" in problems
    assert "backgroundColor must be written rgb(r, g, b)" in problems
    assert "a location needs latitude and longitude in range" in problems
    assert wrong.cert != pki.cert


def test_the_pass_is_static_without_an_https_address(box, member, pki):
    data, record = make_apple_pass(box, member["id"], now=T0, signer=pki.signer())
    content = json.loads(_files(data)["pass.json"])
    assert "webServiceURL" not in content and "authenticationToken" not in content
    assert len(record.auth_token) >= 16


def test_cli_writes_a_member_pass_that_verifies(box, member, pki, stampbox, cli_env, tmp_path):
    cli_env.update(
        STAMPBOX_APPLE_CERT=str(pki.paths["cert"]),
        STAMPBOX_APPLE_KEY=str(pki.paths["key"]),
        STAMPBOX_APPLE_WWDR=str(pki.paths["wwdr"]),
        STAMPBOX_PUBLIC_URL="https://cafe.example",
    )
    out = tmp_path / "dana.pkpass"
    run = stampbox("wallet", "apple-pass", str(member["id"]), "--output", str(out), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["file"] == str(out)
    data = out.read_bytes()
    assert check_pkpass(data, root=pki.root) == []
    content = json.loads(_files(data)["pass.json"])
    assert content["webServiceURL"] == "https://cafe.example/wallet/apple"
    assert len(content["authenticationToken"]) >= 16


def test_cli_says_what_is_missing_when_apple_is_not_set_up(box, member, stampbox, tmp_path):
    run = stampbox("wallet", "apple-pass", str(member["id"]), "--output", str(tmp_path / "x"))
    assert run.returncode == 2
    assert "STAMPBOX_APPLE_CERT is empty" in run.stdout + run.stderr


def test_identifiers_in_the_settings_must_be_the_certificates(box, pki):
    import dataclasses

    from appliance.wallet import WalletError, load_signer

    settings = dataclasses.replace(
        box.settings,
        apple_cert=str(pki.paths["cert"]),
        apple_key=str(pki.paths["key"]),
        apple_wwdr=str(pki.paths["wwdr"]),
        apple_pass_type_id=PASS_TYPE_ID,
        apple_team_id=TEAM_ID,
    )
    assert load_signer(settings).pass_type_id == PASS_TYPE_ID
    with pytest.raises(WalletError, match="STAMPBOX_APPLE_TEAM_ID is 'OTHER'"):
        load_signer(dataclasses.replace(settings, apple_team_id="OTHER"))


def test_every_shop_language_gets_its_strings(box, member, pki):
    from appliance.shop import save_shop_settings

    save_shop_settings({"shop_name": "Kafe", "language": "kk", "currency": "KZT"}, actor="t")
    data, _ = make_apple_pass(box, member["id"], now=T0, signer=pki.signer())
    files = _files(data)
    assert "Мөрлер" in files["kk.lproj/pass.strings"].decode()
    assert "en.lproj/pass.strings" in files
    assert json.loads(files["pass.json"])["organizationName"] == "Kafe"


def test_the_lock_screen_sentences_speak_the_members_language(box, pki):
    from appliance.counter import handle
    from appliance.wallet.cards import card_state
    from appliance.wallet.google import GoogleConfig, object_json

    hebrew = add_member("Noa", card_uid="04AABBCCDDEEFF", locale="he", now=T0)
    for hours in range(8):
        handle("04AABBCCDDEEFF", now=T0 + timedelta(hours=hours))
    data, record = make_apple_pass(box, hebrew["id"], now=T0 + timedelta(days=1),
                                   signer=pki.signer())  # fmt: skip
    assert check_pkpass(data, root=pki.root, now=T0) == []
    fields = _by_key(json.loads(_files(data)["pass.json"]))
    assert fields["status"]["value"] == "יש לך 8 חותמות — עוד 2 עד Free coffee"
    assert fields["stamps"]["changeMessage"] == "חותמות: %@"
    state = card_state(box.db, hebrew["id"], T0 + timedelta(days=1))
    config = GoogleConfig("3388000000012345678", {}, "", "https://cafe.example")
    google = object_json(config, state, record.serial)
    assert google["textModulesData"][0] == {
        "id": "next",
        "header": "הפרס הבא",
        "body": "יש לך 8 חותמות — עוד 2 עד Free coffee",
    }
    assert google["loyaltyPoints"]["label"] == "חותמות"


def _by_key(content: dict) -> dict:
    card = content["storeCard"]
    return {f["key"]: f for group in card.values() for f in group}


def test_cli_checks_a_pass_file(box, member, pki, stampbox, tmp_path):
    data, _ = make_apple_pass(box, member["id"], now=T0, signer=pki.signer())
    good = tmp_path / "good.pkpass"
    good.write_bytes(data)
    run = stampbox("wallet", "check", str(good), "--root", str(pki.paths["root"]), "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["problems"] == []
    files = _files(data)
    files["icon.png"] = b"not a picture"
    bad = tmp_path / "bad.pkpass"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    run = stampbox("wallet", "check", str(bad), "--root", str(pki.paths["root"]))
    assert run.returncode == 3
    assert "icon.png" in run.stdout


def test_cli_sends_pending_updates(box, member, stampbox):
    from appliance.wallet import ensure_pass

    ensure_pass(box.db, member["id"], T0)
    handle("04A1B2C3D4E5F6", now=T0)
    run = stampbox("wallet", "updates", "--at", "2026-11-24T10:00:00Z", "--json")
    assert run.returncode == 0, run.stderr
    # nothing is set up: the pass gets its new tag, nobody is pushed
    assert json.loads(run.stdout)["passes"] == 1
    assert box.db.execute_sql("SELECT COUNT(*) FROM wallet_dirty").fetchone()[0] == 0
