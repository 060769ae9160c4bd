"""Google Wallet: the shop's loyalty class, one loyalty object per member, the REST client and
the "Save to Google Wallet" link.

The client speaks plain httpx; google-auth makes the service-account OAuth token (its token_uri
comes from the key file, so tests point it at a loopback endpoint). Notifying messages are
limited by Google to 3 per pass per 24 hours: we count them locally and send a silent message
past the limit, or when Google says the quota is used up anyway.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from google.auth import crypt, transport
from google.auth import exceptions as auth_exceptions
from google.auth import jwt as google_jwt
from google.oauth2 import service_account

from ..clock import to_micros, utcnow
from ..codes import format_code
from ..db import sql
from ..refusal import N_
from .apns import PushFailed
from .cards import CardState, WalletError, card_state, ensure_pass

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
SAVE_URL = "https://pay.google.com/gp/v/save/"
NOTIFY_LIMIT = 3
NOTIFY_WINDOW = timedelta(hours=24)
CLASS_SUFFIX = "stampbox_loyalty"


@dataclass(frozen=True)
class GoogleConfig:
    issuer_id: str
    account: dict  # the service account's JSON key
    api_url: str
    public_url: str
    shop_name: str = "Stampbox"
    background: str = "#3c2415"
    locations: tuple = ()  # ((latitude, longitude),): the shop, for location notifications

    @property
    def class_id(self) -> str:
        return f"{self.issuer_id}.{CLASS_SUFFIX}"

    def object_id(self, serial: str) -> str:
        return f"{self.issuer_id}.{serial}"


def google_config(settings, shop_name: str = "") -> GoogleConfig:
    """Read the issuer id and the key file named by the settings. Raises WalletError."""
    if not settings.google_issuer_id:
        raise WalletError(
            N_("Google Wallet is not set up: %(name)s is empty."), name="STAMPBOX_GOOGLE_ISSUER_ID"
        )
    path = settings.google_service_account
    if not path:
        raise WalletError(
            N_("Google Wallet is not set up: %(name)s is empty."),
            name="STAMPBOX_GOOGLE_SERVICE_ACCOUNT",
        )
    try:
        account = json.loads(Path(path).read_text())
    except OSError as exc:
        raise WalletError(
            N_("%(name)s: cannot read %(path)s: %(problem)s"),
            name="STAMPBOX_GOOGLE_SERVICE_ACCOUNT",
            path=path,
            problem=exc.strerror,
        ) from None
    except ValueError:
        raise WalletError(
            N_("STAMPBOX_GOOGLE_SERVICE_ACCOUNT: %(path)s is not a JSON key"), path=path
        ) from None
    for key in ("client_email", "private_key", "token_uri"):
        if key not in account:
            raise WalletError(
                N_("STAMPBOX_GOOGLE_SERVICE_ACCOUNT: the key file lacks %(field)s"), field=key
            )
    return GoogleConfig(
        settings.google_issuer_id,
        account,
        settings.google_api_url.rstrip("/"),
        settings.public_url.rstrip("/"),
        shop_name or settings.shop_name or "Stampbox",
    )


def box_google_config(box) -> GoogleConfig:
    """The Google setup with the owner's admin values, shop name, colour and location."""
    from . import shop_name
    from .setup import load_look, wallet_box

    look = load_look(box.db)
    config = google_config(wallet_box(box).settings, shop_name(box))
    places = ((look.latitude, look.longitude),) if look.has_location else ()
    return dataclasses.replace(config, background=look.background, locations=places)


def loyalty_class(config: GoogleConfig) -> dict:
    body = _class_body(config)
    if config.locations:
        body["merchantLocations"] = [
            {"latitude": lat, "longitude": lon} for lat, lon in config.locations
        ]
    return body


def _class_body(config: GoogleConfig) -> dict:
    return {
        "id": config.class_id,
        "issuerName": config.shop_name,
        "programName": f"{config.shop_name} stamp card",
        # Google fetches the logo from a public address (the owner's upload, served by the box)
        "programLogo": {
            "sourceUri": {"uri": f"{config.public_url}/wallet/logo.png"},
            "contentDescription": {
                "defaultValue": {"language": "en", "value": config.shop_name},
            },
        },
        "reviewStatus": "UNDER_REVIEW",
        "hexBackgroundColor": config.background,
        "localizedProgramName": {"defaultValue": {"language": "en", "value": config.shop_name}},
    }


def object_json(config: GoogleConfig, state: CardState, serial: str) -> dict:
    if state.closed:
        # erased: the object stays only as an inactive shell (patching leaves nothing else)
        return {
            "id": config.object_id(serial),
            "classId": config.class_id,
            "state": "INACTIVE",
            "accountId": "",
            "accountName": "",
            "barcode": {"type": "TEXT_ONLY", "value": "-"},
            "loyaltyPoints": {"label": "Stamps", "balance": {"string": "-"}},
            "textModulesData": [{"id": "next", "header": "Closed", "body": "-"}],
        }
    vouchers = ", ".join(v["reward"] for v in state.vouchers) or state.text("none")
    return {
        "id": config.object_id(serial),
        "classId": config.class_id,
        "state": "ACTIVE",
        "accountId": format_code(state.code),
        "accountName": state.name or "Member",
        "barcode": {
            "type": "QR_CODE",
            "value": state.code,
            "alternateText": format_code(state.code),
        },
        "loyaltyPoints": {
            "label": state.text("stamps"),
            "balance": {"string": f"{state.stamps} / {state.stamps_needed}"},
        },
        "textModulesData": [
            {"id": "next", "header": state.text("next"), "body": state.status_line},
            {"id": "vouchers", "header": state.text("vouchers"), "body": vouchers},
        ],
    }


def loyalty_object(box, config: GoogleConfig, member_id: int, now: datetime | None = None):
    """The member's LoyaltyObject as Google wants it. Raises WalletError."""
    now = now or utcnow()
    state = card_state(box.db, member_id, now, closed_ok=_has_pass(box.db, member_id))
    record = ensure_pass(box.db, member_id, now)
    return object_json(config, state, record.serial)


def _has_pass(db, member_id: int) -> bool:
    row = db.execute_sql(sql("SELECT 1 FROM wallet_pass WHERE member_id = ?", db), (member_id,))
    return row.fetchone() is not None


def save_link(
    config: GoogleConfig, objects: list[dict], origins: list[str] | None = None, now=None
) -> str:
    """The "Save to Google Wallet" address: an RS256 JWT signed with the service-account key."""
    now = now or utcnow()
    signer = crypt.RSASigner.from_service_account_info(config.account)
    claims = {
        "iss": config.account["client_email"],
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(now.timestamp()),
        "origins": origins if origins is not None else [config.public_url],
        "payload": {"loyaltyObjects": objects},
    }
    return SAVE_URL + google_jwt.encode(signer, claims).decode()


def member_save_url(box, member_id: int, now: datetime | None = None) -> str:
    """The member's "Save to Google Wallet" address (signup page, welcome email, slip QR)."""
    config = box_google_config(box)
    return save_link(config, [loyalty_object(box, config, member_id, now)], now=now)


class _Response(transport.Response):
    def __init__(self, response: httpx.Response):
        self._r = response

    @property
    def status(self):
        return self._r.status_code

    @property
    def headers(self):
        return self._r.headers

    @property
    def data(self):
        return self._r.content


class _Request(transport.Request):
    """google-auth's transport interface over httpx (no requests dependency)."""

    def __init__(self, client: httpx.Client):
        self.client = client

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        try:
            response = self.client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise auth_exceptions.TransportError(str(exc)) from exc
        return _Response(response)


class GoogleWallet:
    """The REST client. Raises PushFailed (retry later) or WalletError (a refusal)."""

    def __init__(self, config: GoogleConfig, timeout: float = 10.0):
        self.config = config
        self.http = httpx.Client(timeout=timeout)
        self.credentials = service_account.Credentials.from_service_account_info(
            config.account, scopes=[SCOPE]
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict) -> httpx.Response:
        try:
            if not self.credentials.valid:
                self.credentials.refresh(_Request(self.http))
            return self.http.request(
                method,
                f"{self.config.api_url}/{path}",
                json=body,
                headers={"Authorization": f"Bearer {self.credentials.token}"},
            )
        except (httpx.HTTPError, auth_exceptions.TransportError) as exc:
            raise PushFailed(f"Google Wallet unreachable: {exc}") from None
        except auth_exceptions.RefreshError as exc:
            raise WalletError(
                N_("Google refused the service account: %(problem)s"), problem=str(exc)
            ) from None

    def _check(self, response: httpx.Response, what: str) -> dict:
        if response.status_code < 300:
            return response.json() if response.content else {}
        if response.status_code == 429 or response.status_code >= 500:
            raise PushFailed(f"Google Wallet said later ({response.status_code}) for {what}")
        raise WalletError(
            N_("Google Wallet refused %(what)s: %(status)s %(text)s"),
            what=what,
            status=response.status_code,
            text=response.text,
        )

    def _upsert(self, kind: str, body: dict) -> str:
        """Insert; when it exists already (409), patch it. Returns "inserted" or "patched"."""
        response = self._call("POST", kind, body)
        if response.status_code == 409:
            self._check(self._call("PATCH", f"{kind}/{body['id']}", body), f"{kind} patch")
            return "patched"
        self._check(response, f"{kind} insert")
        return "inserted"

    def upsert_class(self, body: dict) -> str:
        return self._upsert("loyaltyClass", body)

    def upsert_object(self, body: dict) -> str:
        return self._upsert("loyaltyObject", body)

    def patch_object(self, body: dict) -> str:
        """Every change to a member's card; inserts the object if Google does not know it."""
        response = self._call("PATCH", f"loyaltyObject/{body['id']}", body)
        if response.status_code == 404:
            return self.upsert_object(body)
        self._check(response, "loyaltyObject patch")
        return "patched"

    def add_message(self, db, member_id: int, object_id: str, message: dict, now=None) -> str:
        """A campaign message on the pass; notifying while the 24-hour quota lasts.

        Returns the messageType sent (TEXT_AND_NOTIFY or TEXT).
        """
        now = now or utcnow()
        notify = notified_recently(db, member_id, now) < NOTIFY_LIMIT
        kind = "TEXT_AND_NOTIFY" if notify else "TEXT"
        response = self._send_message(object_id, message, kind)
        if notify and _quota_exceeded(response):
            kind = "TEXT"  # another box or an earlier life of this one used the quota
            response = self._send_message(object_id, message, kind)
        self._check(response, "addMessage")
        db.execute_sql(
            sql("INSERT INTO wallet_message (member_id, sent_at, notified) VALUES (?, ?, ?)", db),
            (member_id, to_micros(now), kind == "TEXT_AND_NOTIFY"),
        )
        return kind

    def _send_message(self, object_id, message, kind):
        body = {"message": {**message, "messageType": kind}}
        return self._call("POST", f"loyaltyObject/{object_id}/addMessage", body)


def _quota_exceeded(response: httpx.Response) -> bool:
    return response.status_code == 429 or "QuotaExceeded" in response.text


def notified_recently(db, member_id: int, now: datetime) -> int:
    row = db.execute_sql(
        sql(
            "SELECT COUNT(*) FROM wallet_message WHERE member_id = ? AND notified = ?"
            " AND sent_at > ?",
            db,
        ),
        (member_id, True, to_micros(now - NOTIFY_WINDOW)),
    ).fetchone()
    return row[0]
