"""Pass pictures drawn with Pillow: the stamp grid strip for the current count, icon and logo."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

# points at 1x; Apple's sizes for a storeCard (strip 375x123, icon 29x29, logo at most 160x50)
SIZES = {"icon": (29, 29), "logo": (160, 50), "strip": (375, 123)}
SCALES = (1, 2, 3)
INK = (255, 255, 255)
BACKGROUND = (60, 36, 21)
EMPTY = (120, 90, 70)
Colours = tuple  # (background, ink, empty) as RGB triples


def hex_rgb(value: str) -> tuple[int, int, int]:
    """#3c2415 -> (60, 36, 21)."""
    return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))


def stamp_colours(background: str, foreground: str) -> Colours:
    """Filled stamps in the pass's text colour; empty ones halfway to the background."""
    bg, fg = hex_rgb(background), hex_rgb(foreground)
    return bg, fg, tuple((a + b) // 2 for a, b in zip(bg, fg, strict=True))


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # fixed encoder settings: the same card state always gives the same bytes
    image.save(out, "PNG", optimize=False)
    return out.getvalue()


def strip_png(stamps: int, needed: int, scale: int = 1, colours: Colours | None = None) -> bytes:
    """The stamp grid: one circle per stamp on the card, filled up to the member's count."""
    background, ink, empty = colours or (BACKGROUND, INK, EMPTY)
    width, height = (v * scale for v in SIZES["strip"])
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    shown = max(1, min(needed, 20))
    rows = 1 if shown <= 10 else 2
    per_row = -(-shown // rows)
    cell = min(width // per_row, height // rows)
    radius = int(cell * 0.38)
    x0 = (width - per_row * cell) // 2
    y0 = (height - rows * cell) // 2
    for i in range(shown):
        cx = x0 + (i % per_row) * cell + cell // 2
        cy = y0 + (i // per_row) * cell + cell // 2
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        if i < stamps:
            draw.ellipse(box, fill=ink)
        else:
            draw.ellipse(box, outline=empty, width=max(1, 2 * scale))
    return _png(image)


def icon_png(scale: int = 1, colours: Colours | None = None, logo: bytes | None = None) -> bytes:
    background, ink, _ = colours or (BACKGROUND, INK, EMPTY)
    size = SIZES["icon"][0] * scale
    image = Image.new("RGB", (size, size), background)
    if logo:
        # the owner's logo, fitted into the square
        with Image.open(io.BytesIO(logo)) as picture:
            mark = picture.convert("RGBA")
        mark.thumbnail((size, size))
        image.paste(mark, ((size - mark.width) // 2, (size - mark.height) // 2), mark)
        return _png(image)
    r = size * 0.3
    ImageDraw.Draw(image).ellipse((size / 2 - r, size / 2 - r, size / 2 + r, size / 2 + r), ink)
    return _png(image)


def logo_png(text: str, scale: int = 1, ink=INK, logo: bytes | None = None) -> bytes:
    """The owner's logo at this scale, or the shop's name drawn until they upload one."""
    width, height = (v * scale for v in SIZES["logo"])
    if logo:
        with Image.open(io.BytesIO(logo)) as picture:
            image = picture.convert("RGBA")
        image.thumbnail((width, height))
        return _png(image)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    font = ImageFont.load_default(size=18 * scale)
    ImageDraw.Draw(image).text((0, height // 2), text[:20], fill=ink, font=font, anchor="lm")
    return _png(image)


def pass_images(
    shop_name: str, stamps: int, needed: int, colours: Colours | None = None, logo=None
) -> dict[str, bytes]:
    """Every picture file of the pass, by its name in the bundle (icon.png, icon@2x.png, ...)."""
    ink = (colours or (BACKGROUND, INK, EMPTY))[1]
    files = {}
    for scale in SCALES:
        suffix = "" if scale == 1 else f"@{scale}x"
        files[f"icon{suffix}.png"] = icon_png(scale, colours, logo)
        files[f"logo{suffix}.png"] = logo_png(shop_name, scale, ink, logo)
        files[f"strip{suffix}.png"] = strip_png(stamps, needed, scale, colours)
    return files
