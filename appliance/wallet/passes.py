"""A member's Apple pass as the shop styles it: the shop's name, colours, logo and places."""

from __future__ import annotations

from datetime import datetime

from ..clock import utcnow
from .apple import (
    AppleSigner,
    PassStyle,
    build_pkpass,
    load_signer,
    pass_files,
    web_service_url,
)
from .cards import PassRecord, card_state, ensure_pass
from .setup import load_look, logo_file, wallet_box


def shop_name(box) -> str:
    from ..shop import load_shop_settings

    return load_shop_settings().shop_name or box.settings.shop_name or "Stampbox"


def pass_style(box) -> PassStyle:
    from ..shop import LANGUAGES, load_shop_settings

    shop = load_shop_settings()
    look = load_look(box.db)
    languages = tuple(dict.fromkeys(["en", shop.language]))
    logo = logo_file(box.settings)
    locations = ()
    if look.has_location:
        place = {"latitude": look.latitude, "longitude": look.longitude}
        if look.relevant_text:
            place["relevantText"] = look.relevant_text
        locations = (place,)
    return PassStyle(
        organization=shop.shop_name or box.settings.shop_name or "Stampbox",
        web_service_url=web_service_url(box.settings.public_url),
        foreground=look.foreground,
        background=look.background,
        label=look.label,
        languages=tuple(lang for lang in languages if lang in LANGUAGES),
        logo=logo.read_bytes() if logo.exists() else None,
        locations=locations,
    )


def make_apple_pass(
    box, member_id: int, now: datetime | None = None, signer: AppleSigner | None = None
) -> tuple[bytes, PassRecord]:
    """The member's signed .pkpass and its record. Raises WalletError."""
    now = now or utcnow()
    signer = signer or load_signer(wallet_box(box).settings)
    state = card_state(box.db, member_id, now)
    record = ensure_pass(box.db, member_id, now)
    files = pass_files(state, record, signer, pass_style(box))
    return build_pkpass(files, signer, modified=now), record
