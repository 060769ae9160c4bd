"""Wallet push: a campaign's text on the member's saved Apple and Google passes.

Apple passes take no free-form messages: the text becomes the pass's "offer" field, whose
changeMessage makes the phone show it on the lock screen once the pass update (coalesced with
taps, sent by the worker's wallet round) arrives. Google objects get an addMessage, notifying
while the 3-per-24-hours quota lasts and silent after that.
"""

from __future__ import annotations

from datetime import datetime

from ..clock import utcnow
from ..db import sql
from . import Channel, Offline, Outgoing, Rejected, register


@register
class WalletChannel(Channel):
    name = "wallet"
    # holders chose to keep the pass; no address, and erasure still suppresses
    resend_after_crash = True  # setting the same offer again is harmless

    def __init__(self, box):
        from ..wallet.setup import wallet_box

        super().__init__(wallet_box(box))  # the owner's setup from the admin counts too
        self._google = None
        self._config = None

    def _google_set_up(self) -> bool:
        s = self.settings
        return bool(s.google_issuer_id and s.google_service_account)

    def configured(self) -> bool:
        s = self.settings
        if not (s.apple_cert and s.apple_key):
            # no Apple certificate: the Apple side (cryptography, Pillow, httpx) stays unloaded
            return self._google_set_up()
        from ..wallet.worker import apple_ready

        return apple_ready(s) or self._google_set_up()

    def suppression_sql(self, alias: str, erased: bool) -> str:
        no_pass = f"NOT EXISTS (SELECT 1 FROM wallet_pass w WHERE w.member_id = {alias}.id)"
        base = super().suppression_sql(alias, erased)
        head = f"CASE WHEN {no_pass} THEN 'no wallet pass'"
        return head + (" ELSE " + base + " END" if base != "NULL" else " ELSE NULL END")

    def suppression_reason(self, member: dict) -> str | None:
        reason = super().suppression_reason(member)
        if reason:
            return reason
        row = self.box.db.execute_sql(
            sql("SELECT 1 FROM wallet_pass WHERE member_id = ?", self.box.db), (member["id"],)
        ).fetchone()
        return None if row else "no wallet pass"

    def send(self, out: Outgoing, now: datetime | None = None) -> str:
        from ..wallet.apns import PushFailed
        from ..wallet.cards import WalletError, ensure_pass
        from ..wallet.updates import mark_dirty

        now = now or utcnow()
        db = self.box.db
        text = out.text.strip()
        if not text:
            raise Rejected("empty wallet message")
        with db.atomic():
            db.execute_sql(
                sql("UPDATE wallet_pass SET offer = ? WHERE member_id = ?", db),
                (text[:500], out.member_id),
            )
            # the pass update goes with the next wallet round, coalesced with any taps
            mark_dirty(db, out.member_id, now)
        if not self._google_set_up():
            return out.event_key
        try:
            google, config = self._client()
            record = ensure_pass(db, out.member_id, now)
            message = {
                "id": out.event_key.replace(":", "_")[:60],
                "header": out.subject or self.settings.shop_name or "News",
                "body": text,
                "displayInterval": {"start": {"date": now.isoformat()}},
            }
            kind = google.add_message(db, out.member_id, config.object_id(record.serial), message)
        except PushFailed as exc:
            raise Offline(str(exc)) from None
        except WalletError as exc:
            raise Rejected(str(exc)) from None
        return f"{out.event_key}:{kind}"

    def _client(self):
        from ..wallet.google import GoogleWallet, box_google_config

        if self._google is None:
            self._config = box_google_config(self.box)
            self._google = GoogleWallet(self._config)
        return self._google, self._config

    def close(self) -> None:
        if self._google is not None:
            self._google.close()
            self._google = None
