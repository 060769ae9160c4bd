"""The delivery loop: claim due message rows, render each for its member, hand it over.

Each outcome is committed on its own, right after the hand-over, so a crash leaves at most
the one message in flight "sending" (see outbox.recover_orphans for what happens to it).
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime, timedelta

from .. import outbox
from ..clock import from_micros, to_micros, utcnow
from ..codes import format_code
from ..db import is_sqlite, sql
from ..messages import check_sms, email_html, render, sms_info
from ..program import load_program
from ..vouchers import issue_voucher_sql
from ..wording import HTML_LANG, RTL, language
from . import REGISTRY, Offline, Outgoing, Rejected, Uncertain, get
from .email import message_id
from .transactional import confirmation, marketing_footer
from .unsubscribe import preferences_url, unsubscribe_url

log = logging.getLogger(__name__)

_MEMBER = (
    "id, name, email, phone, locale, stamps, email_consent_at, sms_consent_at,"
    " email_unsubscribed_at, sms_unsubscribed_at, email_bounced_at, erased_at"
)
_MEMBER_KEYS = [c.strip() for c in _MEMBER.split(",")]


class Suppressed(Exception):
    pass


def _member(db, member_id: int) -> dict | None:
    row = db.execute_sql(
        sql(f"SELECT {_MEMBER} FROM member WHERE id = ?", db), (member_id,)
    ).fetchone()
    if row is None:
        return None
    return dict(zip(_MEMBER_KEYS, row, strict=True))


def voucher_qr_url(box, code: str) -> str:
    """Where the web serves a voucher's QR code image (a route for the web owner)."""
    return f"{box.settings.public_url.rstrip('/')}/voucher/{code.replace('-', '')}/qr.png"


VOUCHER_QR_CID = "voucher-qr@stampbox"


def voucher_qr_png(code: str) -> bytes:
    """The voucher's code as a QR image the counter scanner reads."""
    import io

    import qrcode

    image = qrcode.make(code.replace("-", ""), box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _shown_code(voucher: dict | None) -> str:
    """The code a message shows: none for a birthday gift kept on the card (the member shows
    the card at the counter; the voucher behind it is the counter's, not the customer's)."""
    if not voucher or voucher.get("gift_kind") == "card":
        return ""
    return voucher["code"]


def values_for(
    box, member: dict, voucher: dict | None, channel: str, memo: dict | None = None
) -> dict:
    """The variables for one member; memo (one per delivery batch) keeps what is the same
    for every member of the batch: the program, whether any wallet is set up."""
    memo = {} if memo is None else memo
    if "program" not in memo:
        memo["program"] = load_program(box.db)
    program = memo["program"]
    stamps = member["stamps"] or 0
    nxt = None
    if program:
        above = [t for t in program.tiers if t.stamps > stamps]
        nxt = above[0] if above else None
    first = (member["name"] or "").split()
    code = _shown_code(voucher)
    values = {
        "first_name": first[0] if first else "there",
        "name": member["name"] or "",
        "stamps": stamps,
        "stamps_left": (nxt.stamps - stamps) if nxt else 0,
        "reward": voucher["reward"] if voucher else (nxt.reward if nxt else ""),
        "voucher_code": code,
        "voucher_qr": voucher_qr_url(box, code) if code else "",
        "shop_name": box.settings.shop_name or "Stampbox",
        "unsubscribe_url": unsubscribe_url(member["id"], channel, box),
        "preferences_url": preferences_url(member["id"], box),
    }
    # wallet_url, apple_wallet_url, google_wallet_url ("" until the owner sets wallets up)
    from ..wallet.links import wallet_links, wallets_ready

    if "wallets" not in memo:
        memo["wallets"] = any(wallets_ready(box).values())
    if memo["wallets"]:
        values.update(wallet_links(box, member["id"]))
    else:
        values.update(wallet_url="", apple_wallet_url="", google_wallet_url="")
    return values


def _pick(content: dict, channel: str, locale: str) -> dict:
    per_locale = content.get(channel) or {}
    lang = (locale or "").split("-")[0]
    return (
        per_locale.get(locale)
        or per_locale.get(lang)
        or per_locale.get("")
        or next(iter(per_locale.values()), {})
    )


# message kinds that are not marketing: sent without consent, to no erased or bounced address
TRANSACTIONAL = ("signup_confirm",)


def render_confirmation(
    box, member_id: int, payload: dict, event_key: str, queued_at=None, now=None
) -> dict:
    """The double opt-in email for a signup, in the language the customer signed up in."""
    from ..signup import CONFIRM_DAYS

    member = _member(box.db, member_id)
    if member is None:
        raise Suppressed("erased")
    if queued_at is not None and now is not None and now - queued_at > timedelta(days=CONFIRM_DAYS):
        # the box was offline past the link's life: a dead link would only confuse
        raise Suppressed("confirmation link expired")
    ch = get("email", box)
    reason = ch.transactional_suppression(member)
    if (
        reason is None
        and (member["email"] or "").strip().lower() != str(payload.get("email", "")).strip().lower()
    ):
        reason = "address changed since signup"
    if reason:
        raise Suppressed(reason)
    name = (member["name"] or "").split()
    values = {
        "first_name": name[0] if name else "",
        "shop_name": box.settings.shop_name or "Stampbox",
        "confirm_url": payload["confirm_url"],
    }
    lang = language(payload.get("locale") or member["locale"], _shop_language(box))
    out = confirmation(lang, values)
    out.update(to=member["email"], message_id=message_id(event_key, box.settings.mail_from))
    return out


def _shop_language(box) -> str:
    try:
        from ..shop import load_shop_settings

        return language(load_shop_settings().language)
    except Exception:  # a box without shop settings yet: English
        return "en"


def render_for(
    box,
    channel: str,
    member_id: int,
    content: dict,
    event_key: str,
    *,
    voucher,
    preview,
    now,
    shop_language: str | None = None,
    memo: dict | None = None,
) -> dict:
    """The message as it would go out (preview) or will go out (delivery).

    shop_language: the shop's own language (for members without one), when the caller has
    it already (a delivery batch reads it once, not per message); memo: see values_for.
    """
    member = _member(box.db, member_id)
    if member is None:
        raise Suppressed("erased")
    parts = _pick(content, channel, member["locale"])
    values = values_for(box, member, voucher, channel, memo)
    ch = get(channel, box)
    out: dict = {"to": member.get(ch.address_column) if ch.address_column else None}
    reason = ch.suppression_reason(member)
    if preview:
        out["suppressed"] = reason
    elif reason:
        raise Suppressed(reason)
    if channel == "email":
        if _shown_code(voucher):
            # the QR travels inside the message: customers read mail away from the shop
            # network, where the box's own address does not resolve (a preview, shown in
            # the owner's browser, carries it as a data: address instead)
            png = voucher_qr_png(voucher["code"])
            if preview:
                values["voucher_qr"] = "data:image/png;base64," + base64.b64encode(png).decode()
            else:
                values["voucher_qr"] = f"cid:{VOUCHER_QR_CID}"
                out["inline_images"] = {VOUCHER_QR_CID: png}
        subject = render(parts.get("subject", ""), values)
        text = render(parts.get("text", ""), values)
        lang = language(member["locale"], shop_language or _shop_language(box))
        footer_text, footer_html = marketing_footer(lang, values)
        out.update(
            subject=subject,
            text=text + footer_text,
            html=email_html(
                parts.get("html"),
                text,
                values,
                subject,
                footer_html=footer_html,
                # English is the layout's own language; others name theirs
                lang="" if lang == "en" else HTML_LANG.get(lang, lang),
                rtl=lang in RTL,
            ),
            message_id=message_id(event_key, box.settings.mail_from),
            list_unsubscribe=f"<{values['unsubscribe_url']}>",
        )
    else:
        text = render(parts.get("text", ""), values)
        out.update(text=text, **sms_info(text).to_dict())
        if not preview:
            check_sms(text)
    return out


class _Sources:
    """Campaign and automation content, loaded once per batch."""

    def __init__(self, box):
        self.box = box
        self.campaigns: dict[int, dict] = {}
        self.shop_language = _shop_language(box)
        self.memo: dict = {}

    def campaign(self, campaign_id: int) -> dict:
        if campaign_id not in self.campaigns:
            from ..campaigns import load

            self.campaigns[campaign_id] = load(campaign_id, self.box)
        return self.campaigns[campaign_id]

    def render(self, row: dict, name: str, now: datetime) -> dict:
        """The row's message, ready to send (raises Suppressed)."""
        if row["kind"] == "signup_confirm":
            return render_confirmation(
                self.box,
                row["member_id"],
                row["payload"],
                row["event_key"],
                from_micros(row["created_at"]),
                now,
            )
        content, voucher = self.content_and_voucher(row, now)
        return render_for(
            self.box,
            name,
            row["member_id"],
            content,
            row["event_key"],
            voucher=voucher,
            preview=False,
            now=now,
            shop_language=self.shop_language,
            memo=self.memo,
        )

    def content_and_voucher(self, row: dict, now: datetime) -> tuple[dict, dict | None]:
        payload = row["payload"]
        if row["campaign_id"] is not None:
            campaign = self.campaign(row["campaign_id"])
            voucher = None
            if campaign["voucher_reward"]:
                voucher = campaign_voucher(self.box, campaign, row["member_id"], now)
            return campaign["content"], voucher
        from ..automations import content_for

        return content_for(payload["automation"], self.box), payload.get("voucher")


def campaign_voucher(box, campaign: dict, member_id: int, now: datetime) -> dict:
    """The campaign's voucher for this member: issued once (source key), reused on a resend."""
    db = box.db
    key = f"campaign:{campaign['id']}:{member_id}"
    with db.atomic():
        row = db.execute_sql(
            sql("SELECT code, reward FROM voucher WHERE source_key = ?", db), (key,)
        ).fetchone()
        if row:
            return {"code": format_code(row[0]), "reward": row[1]}
        return issue_voucher_sql(
            db,
            box.code_key,
            member_id,
            "campaign",
            campaign["voucher_reward"],
            now,
            now + timedelta(days=campaign["voucher_days"] or 30),
            key,
        )


def deliver_due(box, now: datetime | None = None, limit: int = 200) -> dict:
    """One batch: recover orphans, claim due messages, send them. Returns counts."""
    now = now or utcnow()
    db = box.db
    counts = {"claimed": 0, "sent": 0, "failed": 0, "suppressed": 0, "uncertain": 0, "later": 0}
    with db.atomic():
        outbox.recover_orphans(db, now, {n: c.resend_after_crash for n, c in REGISTRY.items()})
    ready = [n for n in REGISTRY if get(n, box).configured()]
    if not ready:
        return counts
    rows = outbox.claim_due(db, now, limit, channels=ready)
    counts["claimed"] = len(rows)
    sources = _Sources(box)
    for name in ready:
        items = [r for r in rows if r["channel"] == name]
        if not items:
            continue
        ch = get(name, box)
        wait = ch.defer_until(now)
        if wait is not None:
            _postpone(db, items, wait)
            counts["later"] += len(items)
            continue
        try:
            _relaxed(db, True)
            _send_items(box, ch, items, sources, now, counts)
        finally:
            _relaxed(db, False)
            ch.close()
    return counts


def _send_items(box, ch, items: list[dict], sources: _Sources, now: datetime, counts) -> None:
    """Render and hand over one channel's claimed rows, each outcome recorded on its own."""
    db = box.db
    ahead = max(1, ch.render_ahead)
    for start in range(0, len(items), ahead):
        ready = []
        for row in items[start : start + ahead]:
            try:
                ready.append((row, sources.render(row, ch.name, now)))
            except Suppressed as exc:
                outbox.mark(db, row["id"], "suppressed", now, str(exc))
                counts["suppressed"] += 1
            except Exception as exc:  # a bad template or row: visible, never silent
                log.exception("message %s failed", row["id"])
                outbox.mark(db, row["id"], "failed", now, f"{type(exc).__name__}: {exc}")
                counts["failed"] += 1
        for i, (row, msg) in enumerate(ready):
            try:
                provider_id = ch.send(
                    Outgoing(
                        event_key=row["event_key"],
                        member_id=row["member_id"],
                        address=msg["to"],
                        subject=msg.get("subject", ""),
                        text=msg["text"],
                        html=msg.get("html", ""),
                        unsubscribe_url=msg.get("list_unsubscribe", "")[1:-1],
                        extra={"inline_images": msg.get("inline_images", {})},
                    )
                )
            except Offline as exc:
                waiting = [r for r, _ in ready[i:]] + items[start + ahead :]
                log.warning("%s offline, %d message(s) wait: %s", ch.name, len(waiting), exc)
                outbox.release(db, waiting, now, str(exc), box.settings.delivery_retry_seconds)
                counts["later"] += len(waiting)
                return
            except Uncertain as exc:
                outbox.mark(db, row["id"], "uncertain", now, str(exc))
                counts["uncertain"] += 1
                continue
            except Rejected as exc:
                outbox.mark(db, row["id"], "failed", now, str(exc))
                if exc.bounce and ch.bounced_column:
                    _bounced(box, ch, row["member_id"], msg["to"], now)
                counts["failed"] += 1
                continue
            except Exception as exc:  # a channel bug: visible, never silent
                log.exception("message %s failed", row["id"])
                outbox.mark(db, row["id"], "failed", now, f"{type(exc).__name__}: {exc}")
                counts["failed"] += 1
                continue
            outbox.mark(db, row["id"], "sent", now, provider_id=provider_id)
            counts["sent"] += 1


def _relaxed(db, on: bool) -> None:
    """Outcome marks without an fsync each (SQLite synchronous=NORMAL, this connection only).

    A killed worker loses nothing committed this way (the WAL is in the OS's hands); only a
    power cut can, and then the row is still "sending": email goes again with the same
    Message-ID, SMS becomes "uncertain". The claim before the hand-over stays fully synced,
    so a power cut can never make an SMS look unsent. One fsync per message would cap
    delivery at the disk's fsync rate (bench/README.md).
    """
    if is_sqlite(db):
        db.execute_sql(f"PRAGMA synchronous = {'NORMAL' if on else 'FULL'}")


def _postpone(db, items: list[dict], until: datetime) -> None:
    with db.atomic():
        for row in items:
            db.execute_sql(
                sql(
                    "UPDATE outbox SET state = 'pending', claimed_by = '', due_at = ?,"
                    " last_error = 'quiet hours' WHERE id = ? AND state = 'sending'",
                    db,
                ),
                (to_micros(until), row["id"]),
            )


def _bounced(box, ch, member_id: int, address: str, now: datetime) -> None:
    """The address was refused for good: the member and the hashed list both remember."""
    from ..suppression import add

    db = box.db
    with db.atomic():
        db.execute_sql(
            sql(f"UPDATE member SET {ch.bounced_column} = ? WHERE id = ?", db),
            (to_micros(now), member_id),
        )
        add(box, ch.name, address, "bounced", now)


def deliver_all(box, now: datetime | None = None, limit: int = 200) -> dict:
    """Batches until nothing due is left or a channel is offline (the worker's job)."""
    total: dict = {}
    while True:
        counts = deliver_due(box, now, limit)
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        if counts["claimed"] < limit or counts["later"]:
            return total


def summary(counts: dict) -> str:
    return json.dumps(counts, sort_keys=True)
