"""Text drawn as a 1-bit picture with Pillow: for scripts a printer's code page cannot carry
(Hebrew right to left, Chinese, Kazakh) and for the PNG preview of every slip.

Shaping and direction come from Pillow's raqm layout (fribidi) when it is present; the fonts
are Debian's (system-packages.txt): DejaVu for Latin, Cyrillic, Greek and Hebrew, WenQuanYi
Micro Hei for CJK.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
FONTS = {
    "regular": ("dejavu/DejaVuSans.ttf",),
    "bold": ("dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSans.ttf"),
    "cjk": ("wqy/wqy-microhei.ttc", "wqy/wqy-zenhei.ttc"),
}
# one printer line of Font A is 24 dots high; the picture uses the same line height
LINE_DOTS = 24


def needs_cjk(text: str) -> bool:
    return any(
        0x2E80 <= ord(ch) <= 0x9FFF or 0xAC00 <= ord(ch) <= 0xD7AF or 0xF900 <= ord(ch) <= 0xFAFF
        for ch in text
    )


@lru_cache(maxsize=32)
def font(style: str, pixels: int):
    for name in FONTS[style]:
        for base in FONT_DIRS:
            if (base / name).exists():
                engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
                return ImageFont.truetype(str(base / name), pixels, layout_engine=engine)
    # no Debian font: Pillow's built-in bitmap font still shows Latin text
    return ImageFont.load_default(pixels)


def _font_for(text: str, bold: bool, size: int):
    style = "cjk" if needs_cjk(text) else ("bold" if bold else "regular")
    return font(style, int(LINE_DOTS * 0.85 * size))


def wrap(text: str, width: int, face) -> list[str]:
    """Greedy wrap by drawn width: at spaces, or anywhere in CJK; an overlong word is cut."""
    cjk = needs_cjk(text)
    joiner = "" if cjk else " "
    lines: list[str] = []
    current = ""
    for word in list(text) if cjk else text.split(" "):
        trial = current + joiner + word if current else word
        if face.getlength(trial) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
        while face.getlength(current) > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and face.getlength(current[:cut]) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    return lines


def text_image(
    text: str, width: int, *, align: str = "left", bold: bool = False, size: int = 1
) -> Image.Image:
    """The text as a white-on-nothing 1-bit picture `width` dots wide, wrapped to fit."""
    face = _font_for(text, bold, size)
    line_height = LINE_DOTS * size + 2
    lines = wrap(text, width, face)
    image = Image.new("1", (width, line_height * len(lines)), 1)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        drawn = face.getlength(line)
        # right-to-left lines read from the right edge unless centred on purpose
        rtl = any(0x0590 <= ord(ch) <= 0x08FF for ch in line)
        side = "right" if rtl and align == "left" else align
        x = {"left": 0, "center": (width - drawn) / 2, "right": width - drawn}[side]
        draw.text((x, n * line_height), line, font=face, fill=0)
    return image
