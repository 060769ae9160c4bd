"""The receipt renderers: a core receipt document to ESC/POS (through python-escpos) or to a
PNG preview. One layout, two pictures of it.

This module and the bridge loops are the parts of the bridge that import `appliance`.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import qrcode
from escpos.printer import Dummy
from PIL import Image, ImageDraw

from appliance.receipts import QR, Barcode, Feed, Receipt, Rule, Text

from .raster import LINE_DOTS, text_image

log = logging.getLogger(__name__)

# the code page every slip is sent in, set explicitly: python-escpos' automatic switching
# picked ISO-8859-7 for "€" (FIELD-NOTES); CP858 is CP850 with the euro sign
CODE_PAGE = "CP858"
BARCODE_MODULE_DOTS = 2


@dataclass(frozen=True)
class Paper:
    """A paper width: printable dots at 203 dpi, and Font A (12 dots) characters per line."""

    mm: int
    dots: int

    @property
    def columns(self) -> int:
        return self.dots // 12


PAPERS = {58: Paper(58, 384), 80: Paper(80, 576)}


def paper(width_mm: int) -> Paper:
    try:
        return PAPERS[int(width_mm)]
    except (KeyError, ValueError):
        raise ValueError(f"paper width {width_mm!r} mm: use 58 or 80") from None


def encodable(text: str, code_page: str = CODE_PAGE) -> bool:
    try:
        text.encode(code_page)
    except UnicodeEncodeError:
        return False
    return True


def code128_dots(data: str, module: int = BARCODE_MODULE_DOTS) -> int:
    """Width of a CODE128 set B symbol: start, data, check (11 modules each), stop (13)."""
    return (11 * (len(data) + 2) + 13) * module


def render_escpos(receipt: Receipt, width_mm: int = 80) -> bytes:
    """The slip as ESC/POS bytes, built by python-escpos, ending with a cut."""
    target = Dummy()
    draw_escpos(receipt, target, width_mm)
    return target.output


def draw_escpos(receipt: Receipt, printer, width_mm: int = 80) -> None:
    """Send the slip to a python-escpos printer object (Dummy, Serial, Usb, Network, File)."""
    page = paper(width_mm)
    _set_paper(printer, page)
    printer.hw("INIT")
    printer.charcode(CODE_PAGE)
    for block in receipt.blocks:
        if isinstance(block, Text):
            _text(printer, block, page)
        elif isinstance(block, QR):
            printer.set(align="center")
            # native: the printer draws the QR from the data, sharper and shorter than a picture
            printer.qr(block.data, size=block.size, native=True)
        elif isinstance(block, Barcode):
            if code128_dots(block.data) > page.dots:
                # too wide for this paper: the readable code printed beside it is enough
                log.info("barcode %r does not fit %d mm paper: left out", block.data, page.mm)
                continue
            printer.set(align="center")
            printer.barcode(
                "{B" + block.data,
                block.symbology,
                height=64,
                width=BARCODE_MODULE_DOTS,
                function_type="B",
                pos="BELOW",
            )
        elif isinstance(block, Rule):
            printer.set(align="left", normal_textsize=True, bold=False)
            printer.textln("-" * page.columns)
        elif isinstance(block, Feed):
            printer.ln(block.lines)
    printer.set(align="left", normal_textsize=True, bold=False)
    printer.cut()


def _set_paper(printer, page: Paper) -> None:
    """Tell python-escpos the paper's width in dots (its default profile says "Unknown"),
    on this printer object only: profile data is shared between instances."""
    data = copy.deepcopy(printer.profile.profile_data)
    data.setdefault("media", {}).setdefault("width", {})["pixels"] = page.dots
    data["media"]["width"]["mm"] = page.mm
    printer.profile.profile_data = data


def _text(printer, block: Text, page: Paper) -> None:
    if encodable(block.text):
        big = block.size > 1
        printer.set(
            align=block.align,
            bold=block.bold,
            double_width=big,
            double_height=big,
            normal_textsize=not big,
        )
        printer.textln(block.text)
        return
    # Hebrew, Chinese, Kazakh...: the printer cannot spell it, so it prints a picture of it
    printer.image(
        text_image(block.text, page.dots, align=block.align, bold=block.bold, size=block.size)
    )


# -- the PNG preview ------------------------------------------------------------------------


def render_png(receipt: Receipt, width_mm: int = 80) -> Image.Image:
    """The slip as a 1-bit picture the width of the paper, as the printer would print it."""
    page = paper(width_mm)
    parts: list[Image.Image] = []
    for block in receipt.blocks:
        if isinstance(block, Text):
            parts.append(
                text_image(
                    block.text, page.dots, align=block.align, bold=block.bold, size=block.size
                )
            )
        elif isinstance(block, QR):
            code = qrcode.QRCode(box_size=block.size, border=2)
            code.add_data(block.data)
            parts.append(_centred(code.make_image().get_image().convert("1"), page.dots))
        elif isinstance(block, Barcode):
            if code128_dots(block.data) <= page.dots:
                parts.append(_centred(_code128_image(block.data), page.dots))
        elif isinstance(block, Rule):
            rule = Image.new("1", (page.dots, LINE_DOTS // 2), 1)
            ImageDraw.Draw(rule).line((0, LINE_DOTS // 4, page.dots, LINE_DOTS // 4), fill=0)
            parts.append(rule)
        elif isinstance(block, Feed):
            parts.append(Image.new("1", (page.dots, LINE_DOTS * block.lines), 1))
    height = sum(part.height for part in parts) + LINE_DOTS
    sheet = Image.new("1", (page.dots, height), 1)
    y = 0
    for part in parts:
        sheet.paste(part, (0, y))
        y += part.height
    return sheet


def _centred(image: Image.Image, width: int) -> Image.Image:
    if image.width > width:
        image = image.resize((width, width * image.height // image.width))
    row = Image.new("1", (width, image.height), 1)
    row.paste(image, ((width - image.width) // 2, 0))
    return row


def _code128_image(data: str) -> Image.Image:
    from barcode import Code128
    from barcode.writer import ImageWriter

    # python-barcode ships with python-escpos; the preview draws the same symbology
    writer = ImageWriter(mode="1")
    options = {"module_width": 0.25, "module_height": 8.0, "quiet_zone": 2.0, "dpi": 203}
    return Code128(data, writer=writer).render(options)
