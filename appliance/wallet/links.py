"""Signed links that add a member's card to a phone's wallet, for pages, emails and slips.

One address per member, `/w/<member_id>.<mac>` (HMAC-SHA256 with the box's `wallet_link_key`,
nothing stored): its page offers "Add to Apple Wallet" (the .pkpass from
`/w/<token>/card.pkpass`) and "Save to Google Wallet" (`/w/<token>/google`, a redirect to
Google's save address with a fresh RS256 JWT). The pass record is made when the customer
follows a link, not when a message carrying it is written: an email to thousands of members
creates no passes. Short addresses also fit a QR code on a printed slip, which a save JWT
carrying the whole object (a few kilobytes) would not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..keys import secret_bytes
from .setup import setup_settings

PATH = "/w/"


def _mac(settings, member_id: int) -> str:
    key = secret_bytes(settings.secrets_dir, "wallet_link_key")
    digest = hmac.new(key, f"wallet.{int(member_id)}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:15]).decode().rstrip("=")


def link_token(settings, member_id: int) -> str:
    return f"{int(member_id)}.{_mac(settings, member_id)}"


def verify_link_token(settings, token: str) -> int | None:
    """The member id of a genuine token, else None."""
    member, _, mac = (token or "").partition(".")
    if not member.isdigit() or len(token) > 60:
        return None
    if not hmac.compare_digest(_mac(settings, int(member)), mac):
        return None
    return int(member)


def wallets_ready(box) -> dict[str, bool]:
    """Which wallets can serve a customer now (files and identifiers present)."""
    s = setup_settings(box.settings, box.db)
    return {
        "apple": bool(s.apple_cert and s.apple_key and s.apple_wwdr),
        "google": bool(s.google_issuer_id and s.google_service_account),
    }


def wallet_links(box, member_id: int, ready: dict | None = None) -> dict[str, str]:
    """Addresses for the member: `wallet_url` (the page offering both), `apple_wallet_url`,
    `google_wallet_url`; each "" when that wallet is not set up. `ready` (wallets_ready's
    answer) spares a batch of messages asking again for every member."""
    ready = ready if ready is not None else wallets_ready(box)
    if not any(ready.values()):
        return {"wallet_url": "", "apple_wallet_url": "", "google_wallet_url": ""}
    base = box.settings.public_url.rstrip("/") + PATH + link_token(box.settings, member_id)
    return {
        "wallet_url": base,
        "apple_wallet_url": base + "/card.pkpass" if ready["apple"] else "",
        "google_wallet_url": base + "/google" if ready["google"] else "",
    }


def enrolment_slip(box, member_id: int, signup_url: str, now=None):
    """The member's enrolment slip with the wallet QR when a wallet is set up.

    Raises WalletError when the member has no usable card."""
    from ..receipts import enrolment_receipt
    from .cards import card_state

    state = card_state(box.db, member_id, now)
    return enrolment_receipt(
        signup_url,
        state.code,
        now=now,
        zone=box.zone,
        wallet_url=wallet_links(box, member_id)["wallet_url"],
    )


# the sentence the admin's button adds to the welcome email, per content language
WELCOME_LINE = {
    "en": "Your stamp card on your phone: {{wallet_url}}",
    "he": "כרטיס החותמות שלך בטלפון: {{wallet_url}}",
    "kk": "Мөр картаңыз телефоныңызда: {{wallet_url}}",
    "zh": "手机上的集章卡：{{wallet_url}}",
}
_LINKS = ("{{wallet_url}}", "{{apple_wallet_url}}", "{{google_wallet_url}}")


def _mentions_link(parts: dict) -> bool:
    text = "".join(str(parts.get(k, "")) for k in ("text", "html")).replace(" ", "")
    return any(link in text for link in _LINKS)


def welcome_has_wallet_link(box) -> bool:
    from ..automations import load

    email = load("welcome", box)["content"].get("email") or {}
    return bool(email) and all(_mentions_link(parts) for parts in email.values())


def add_wallet_link_to_welcome(box, actor: str, now=None) -> int:
    """Append the wallet link to every language of the welcome email that lacks one (through
    the automation's own configure, which checks and audits). Returns how many changed."""
    import copy

    from ..automations import configure, load

    auto = load("welcome", box)
    content = copy.deepcopy(auto["content"])  # load may hand out the module's defaults
    changed = 0
    for locale, parts in (content.get("email") or {}).items():
        if _mentions_link(parts):
            continue
        line = WELCOME_LINE.get(locale.split("-")[0], WELCOME_LINE["en"])
        parts["text"] = (parts.get("text") or "").rstrip() + "\n\n" + line
        if parts.get("html"):
            label = line.replace(" {{wallet_url}}", "").rstrip(":：")
            parts["html"] += f'\n<p><a href="{{{{wallet_url}}}}">{label}</a></p>'
        changed += 1
    if changed:
        configure(
            "welcome",
            enabled=auto["enabled"],
            channel_names=auto["channels"],
            content=content,
            params=auto["params"],
            now=now,
            actor=actor,
            box=box,
        )
    return changed
