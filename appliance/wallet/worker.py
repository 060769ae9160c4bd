"""The worker's wallet step: connect to what is set up, send the due pass updates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..clock import utcnow
from ..refusal import N_
from .apns import ApnsClient, PushFailed, TokenAuth
from .apple import web_service_url
from .cards import WalletError
from .updates import UpdateCounts, send_updates

BATCH = 100


def apple_ready(settings) -> bool:
    """Pushes only make sense when phones can reach the web service (a public https address)."""
    return bool(settings.apple_cert and settings.apple_key and web_service_url(settings.public_url))


def apns_client(settings) -> ApnsClient:
    """APNs with the Pass Type ID certificate, or with a .p8 token key when one is set up."""
    from .apple import load_signer

    signer = load_signer(settings)  # checks the files; the topic is the certificate's UID
    topic = settings.apple_pass_type_id or signer.pass_type_id
    if not settings.apns_key_file:
        return ApnsClient(
            settings.apns_url, topic, cert=settings.apple_cert, key=settings.apple_key
        )
    if not settings.apns_key_id:
        raise WalletError(N_("APNs token key: STAMPBOX_APNS_KEY_ID (the key's Key ID) is empty."))
    try:
        key_pem = Path(settings.apns_key_file).read_bytes()
    except OSError as exc:
        raise WalletError(
            N_("%(name)s: cannot read %(path)s: %(problem)s"),
            name="STAMPBOX_APNS_KEY_FILE",
            path=settings.apns_key_file,
            problem=exc.strerror,
        ) from None
    token = TokenAuth(key_pem, settings.apns_key_id, settings.apns_team_id or signer.team_id)
    return ApnsClient(settings.apns_url, topic, token=token)


class _ApnsUnusable:
    """Stands in for APNs when the setup is broken: every push waits (with back-off) until the
    owner fixes it, instead of the round failing or the change being dropped."""

    def __init__(self, reason: str):
        self.reason = reason

    def push(self, push_token: str) -> str:
        raise PushFailed(self.reason)

    def close(self) -> None:
        pass


def _apns(settings):
    try:
        return apns_client(settings)
    except (WalletError, OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        return _ApnsUnusable(f"APNs cannot be used: {exc}")


def run_wallet_updates(box, now: datetime | None = None) -> UpdateCounts:
    """One round: every due pass gets its latest state pushed (Apple) and patched (Google)."""
    from .setup import wallet_box

    now = now or utcnow()
    box = wallet_box(box)  # the owner's uploads and identifiers from the admin
    settings = box.settings
    apns = _apns(settings) if apple_ready(settings) else None
    google = client = None
    if settings.google_issuer_id and settings.google_service_account:
        from .google import GoogleWallet, box_google_config, loyalty_class, loyalty_object

        try:
            config = box_google_config(box)
        except WalletError:
            config = None
        if config is not None:
            client = GoogleWallet(config)
            ready = []

            def google(member_id: int) -> None:
                if not ready:  # objects need their class: make sure of it once per round
                    client.upsert_class(loyalty_class(config))
                    ready.append(True)
                client.patch_object(loyalty_object(box, config, member_id, now))

    try:
        total = UpdateCounts()
        while True:  # a campaign may mark thousands: drain them, one connection for all
            counts = send_updates(box.db, now, apns=apns, google=google, limit=BATCH)
            for name in ("passes", "pushed", "unregistered", "google", "later"):
                setattr(total, name, getattr(total, name) + getattr(counts, name))
            total.errors += counts.errors
            if counts.passes < BATCH or counts.later:
                return total
    finally:
        if apns is not None:
            apns.close()
        if client is not None:
            client.close()
