"""Slips: the core's receipt documents, rendered by python-escpos and read back by an
independent ESC/POS emulator (emupos) and a barcode reader (zxing-cpp)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image, ImageOps

from appliance.counter import handle
from appliance.events import CounterResult
from appliance.members import add_member
from appliance.receipts import (
    QR,
    Receipt,
    Text,
    printer_test_receipt,
    reward_receipt,
    voucher_receipt_for_code,
)
from appliance.vouchers import issue_voucher_sql, redeem_voucher
from firmware_bridge.slips import render_escpos, render_png

from .conftest import T0
from .fixtures.emupos_peer import decode, ensure_emupos

UID = "04A23B4C5D6E7F"


@pytest.fixture(scope="session")
def emupos_python():
    return ensure_emupos()


def read_codes(image: Image.Image) -> dict[str, str]:
    """What a barcode reader sees on the picture: {format: text}."""
    framed = ImageOps.expand(image.convert("L"), border=24, fill=255)
    found = zxingcpp.read_barcodes(framed)
    return {str(code.format).rpartition(".")[2].replace(" ", ""): code.text for code in found}


@pytest.fixture
def earned_voucher(box):
    """A voucher issued by the core as a full card issues it, on Anna's account."""
    member = add_member("Anna", card_uid=UID, now=T0 - timedelta(days=1))
    with box.db.atomic():
        voucher = issue_voucher_sql(
            box.db,
            box.code_key,
            member["id"],
            "tier",
            "Free coffee",
            T0,
            T0 + timedelta(days=90),
            f"tier:{member['id']}:0:10",
        )
    return CounterResult("stamped", "card full", member=member, unlocked=[voucher])


@pytest.mark.parametrize("width", [58, 80])
def test_a_voucher_slip_decodes_and_its_qr_redeems_at_the_counter(
    earned_voucher,
    emupos_python,
    tmp_path,
    width,
):
    (slip,) = reward_receipt(earned_voucher.to_dict(), now=T0, zone=None)
    decoded = decode(emupos_python, render_escpos(slip, width), tmp_path, width)
    assert decoded["unknown"] == []  # every byte we sent is a command emupos understands
    (receipt,) = decoded["receipts"]
    code = earned_voucher.unlocked[0]["code"]  # VXXX-XXXX-XXXX-XXXX
    canonical = code.replace("-", "")
    assert receipt["boundary"] == "cut"
    assert receipt["width"] == {58: 384, 80: 576}[width]
    assert "Free coffee" in receipt["text"] and "For Anna" in receipt["text"]
    assert code in receipt["text"]  # the groups a person reads aloud
    assert f"[qr {canonical}]" in receipt["text"]
    scanned = read_codes(Image.open(receipt["png"]))["QRCode"]
    assert scanned == canonical
    # the scanned QR is what a scanner hands the core: it is a valid voucher, then redeems once
    shown = handle(scanned, "scanner", now=T0 + timedelta(hours=2))
    assert shown.status == "voucher"
    assert redeem_voucher(scanned, now=T0 + timedelta(hours=2)).status == "redeemed"
    assert redeem_voucher(scanned, now=T0 + timedelta(hours=3)).status == "refused"


def test_the_code_page_is_set_and_euro_and_accents_print(emupos_python, tmp_path):
    data = render_escpos(printer_test_receipt(now=T0), 80)
    assert b"\x1bt\x13" in data  # ESC t 19: CP858, chosen by us, not guessed per character
    (receipt,) = decode(emupos_python, data, tmp_path)["receipts"]
    assert "Café crème 2,50 € · Grüße · Ñandú" in receipt["text"]
    assert read_codes(Image.open(receipt["png"])) == {
        "QRCode": "STAMPBOX PRINTER TEST",
        "Code128": "STAMPBOX",
    }


def test_text_the_code_page_cannot_carry_is_printed_as_a_picture(emupos_python, tmp_path):
    slip = Receipt(
        "test",
        (
            Text("Hello"),
            Text("שלום עולם", align="center"),
            Text("你好，欢迎光临"),
            Text("Сәлеметсіз бе"),
        ),
    )
    (receipt,) = decode(emupos_python, render_escpos(slip, 58), tmp_path, 58)["receipts"]
    lines = receipt["text"].splitlines()
    assert lines[0] == "Hello"
    assert [line.startswith("[image 384x") for line in lines[1:]] == [True, True, True]


def test_a_barcode_too_wide_for_58_mm_is_left_out_but_fits_80(emupos_python, tmp_path):
    from appliance.receipts import Barcode

    slip = Receipt("test", (Text("card"), Barcode("C0123456789ABCDEF")))
    (narrow,) = decode(emupos_python, render_escpos(slip, 58), tmp_path / "58", 58)["receipts"]
    (wide,) = decode(emupos_python, render_escpos(slip, 80), tmp_path / "80", 80)["receipts"]
    assert narrow["text"] == "card\n"
    assert "[barcode CODE128 C0123456789ABCDEF]" in wide["text"]


def test_the_preview_picture_shows_the_same_qr(earned_voucher):
    code = earned_voucher.unlocked[0]["code"]
    slip = voucher_receipt_for_code(code, now=T0)
    for width, dots in ((58, 384), (80, 576)):
        picture = render_png(slip, width)
        assert picture.width == dots
        assert read_codes(picture)["QRCode"] == code.replace("-", "")


def test_a_receipt_survives_its_json_round_trip():
    slip = printer_test_receipt(now=T0)
    assert Receipt.from_dict(slip.to_dict()) == slip
    assert (
        QR("x") in Receipt.from_dict({"kind": "t", "blocks": [{"kind": "qr", "data": "x"}]}).blocks
    )
    with pytest.raises(ValueError, match="unknown receipt block"):
        Receipt.from_dict({"kind": "t", "blocks": [{"kind": "hologram"}]})


def test_an_unknown_voucher_code_cannot_be_printed(box):
    with pytest.raises(LookupError, match="No voucher"):
        voucher_receipt_for_code("VAAA-AAAA-AAAA-AAAA")


def test_the_end_of_day_slip_counts_the_day(box, emupos_python, tmp_path):
    from appliance.receipts import day_summary_receipt

    add_member("Anna", card_uid=UID, now=T0 - timedelta(hours=1))
    add_member("Ben", card_uid="04B23B4C5D6E7F", now=T0 - timedelta(days=3))
    handle(UID, "test", now=T0)
    handle("04B23B4C5D6E7F", "test", now=T0 + timedelta(hours=2))
    slip = day_summary_receipt(T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1))
    (receipt,) = decode(emupos_python, render_escpos(slip, 58), tmp_path, 58)["receipts"]
    lines = receipt["text"].splitlines()
    assert "Visits                 2" in lines
    assert "Stamps                 2" in lines
    assert "New members            1" in lines


def test_the_enrolment_and_setup_slips_carry_their_qr_codes():
    from appliance.receipts import enrolment_receipt, setup_receipt

    enrol = enrolment_receipt("https://stampbox.local/join/K7Q2", "C0123456789ABCDE", now=T0)
    assert read_codes(render_png(enrol, 80)) == {
        "QRCode": "https://stampbox.local/join/K7Q2",
        "Code128": "C0123456789ABCDE",
    }
    setup = setup_receipt("https://stampbox.local/admin", "owner", "pw-123", now=T0)
    assert read_codes(render_png(setup, 58))["QRCode"] == "https://stampbox.local/admin"
    assert "Password: pw-123" in setup.text()


def test_hebrew_is_drawn_right_to_left_from_the_right_edge():
    from firmware_bridge.raster import text_image

    def ink(image):
        return ImageOps.invert(image.convert("L"))

    word, first = text_image("שלום", 384), text_image("ש", 384)
    box = ink(first).getbbox()  # where the first letter alone is drawn
    assert box[2] >= 384 - 2  # a Hebrew line starts at the right edge
    # read right to left, the word's first letter is its rightmost: the same ink there
    assert ink(word).crop(box).tobytes() == ink(first).crop(box).tobytes()
    assert ink(word).getbbox()[0] < box[0]  # and the rest of the word lies to its left


def _rows_of(picture: Image.Image, part: Image.Image) -> int | None:
    """The first row where `part` (as wide as the picture) lies in it, dot for dot."""
    picture, wanted = picture.convert("1"), part.convert("1").tobytes()
    for y in range(picture.height - part.height + 1):
        if picture.crop((0, y, picture.width, y + part.height)).tobytes() == wanted:
            return y
    return None


def test_a_hebrew_shop_prints_its_slips_in_hebrew_with_its_dates_and_zone(
    earned_voucher, emupos_python, tmp_path
):
    from appliance.shop import save_shop_settings
    from firmware_bridge.raster import text_image

    save_shop_settings({"language": "he", "timezone": "Asia/Jerusalem"}, "owner")
    code = earned_voucher.unlocked[0]["code"]
    slip = voucher_receipt_for_code(code, now=T0)
    lines = slip.text().splitlines()
    assert "הפרס שלך" in lines  # "Your reward"
    assert "עבור Anna" in lines and "Free coffee" in lines
    # 09:00 UTC is 11:00 in Jerusalem; the dates written the Hebrew way
    assert "24 בנוב׳ 2026 11:00" in lines
    assert "בתוקף מ-24 בנוב׳ 2026 עד 22 בפבר׳ 2027" in lines
    assert "הציגו את הפתק בקופה." in lines
    # the printer cannot encode Hebrew: the title is drawn, and that drawing is on the slip
    title = text_image("הפרס שלך", 576, align="center", bold=True)
    assert _rows_of(render_png(slip, 80), title) is not None
    decoded = decode(emupos_python, render_escpos(slip, 80), tmp_path, 80)
    assert decoded["unknown"] == []
    (receipt,) = decoded["receipts"]
    assert "הפרס" not in receipt["text"] and "[image 576x" in receipt["text"]
    assert "Free coffee" in receipt["text"]  # the encodable lines stay text
    assert read_codes(Image.open(receipt["png"]))["QRCode"] == code.replace("-", "")
    # the emulator's picture of the printed slip carries the same drawing of the title
    assert _rows_of(Image.open(receipt["png"]), title) is not None


@pytest.mark.parametrize(
    ("lang", "title", "visits"),
    [("en", "End of day", "Visits                 0"), ("kk", "Күн қорытындысы", "Келулер"),
     ("zh", "日结", "到访")],
)  # fmt: skip
def test_the_end_of_day_and_enrolment_slips_follow_the_shops_language(box, lang, title, visits):
    from appliance.receipts import day_summary_receipt, enrolment_receipt
    from appliance.shop import save_shop_settings

    save_shop_settings({"language": lang}, "owner")
    day = day_summary_receipt(T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1))
    assert day.title == title
    assert any(line.startswith(visits) for line in day.text().splitlines())
    enrol = enrolment_receipt("https://stampbox.local/join/K7Q2", "C0123456789ABCDE", now=T0)
    assert enrol.title == {"en": "Welcome!", "kk": "Қош келдіңіз!", "zh": "欢迎！"}[lang]


def test_a_hebrew_shops_printer_test_prints_its_own_letters(box, emupos_python, tmp_path):
    from appliance.shop import save_shop_settings
    from firmware_bridge.raster import text_image

    english = printer_test_receipt(now=T0, width=80)
    save_shop_settings({"language": "he"}, "owner")
    slip = printer_test_receipt(now=T0, width=80)
    lines = slip.text().splitlines()
    assert slip.title == "בדיקת מדפסת" and english.title == "Printer test"
    assert {"בדיקת מדפסת", "נייר: 80 מ״מ", "שמאל", "מרכז", "ימין", "מודגש", "גדול"} <= set(lines)
    assert "Paper: 80 mm" in english.text().splitlines()
    (receipt,) = decode(emupos_python, render_escpos(slip, 80), tmp_path, 80)["receipts"]
    # the code page's own check stays text; the shop's letters are drawn, the title among them
    assert "Café crème 2,50 € · Grüße · Ñandú" in receipt["text"]
    assert "מדפסת" not in receipt["text"]
    title = text_image("בדיקת מדפסת", 576, align="center", bold=True)
    assert _rows_of(Image.open(receipt["png"]), title) is not None
    assert read_codes(Image.open(receipt["png"]))["QRCode"] == "STAMPBOX PRINTER TEST"


@pytest.mark.parametrize(("lang", "words"), [("kk", "Принтерді тексеру"), ("zh", "打印机测试")])
def test_the_printer_test_follows_the_shops_language(box, lang, words):
    from appliance.shop import save_shop_settings

    save_shop_settings({"language": lang}, "owner")
    slip = printer_test_receipt(now=T0, width=80)
    assert slip.title == words and words in slip.text().splitlines()
    assert printer_test_receipt(now=T0, lang="en").title == "Printer test"
