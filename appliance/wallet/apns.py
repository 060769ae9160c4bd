"""APNs pushes for Wallet passes: HTTP/2 only, `POST /3/device/<pushToken>`, body `{}`.

The phone then asks the web service what changed; the text it shows comes from the pass's
`changeMessage`. Authentication is the Pass Type ID certificate (Apple's documented way for
Wallet) or, as an option, an ES256 JWT from a .p8 key.
"""

from __future__ import annotations

import json
import ssl
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


class PushUnregistered(Exception):
    """APNs says the token is gone (410): delete the registration."""


class PushFailed(Exception):
    """Try again later (APNs down, offline, throttled, or a setup problem the owner must fix)."""


@dataclass(frozen=True)
class TokenAuth:
    """Provider token authentication: a .p8 key, its key id and the team id."""

    key_pem: bytes
    key_id: str
    team_id: str

    def jwt(self, now: float | None = None) -> str:
        def b64(data: bytes) -> str:
            return urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"alg": "ES256", "kid": self.key_id}).encode())
        claims = b64(json.dumps({"iss": self.team_id, "iat": int(now or time.time())}).encode())
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        der = key.sign(f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{header}.{claims}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class _H2OnlyContext(ssl.SSLContext):
    """Offers only h2 in ALPN: httpcore would add http/1.1 to the offer, and APNs has no use
    for it (a peer that picks it gets nothing from us: the connection fails, the push waits)."""

    def set_alpn_protocols(self, protocols) -> None:
        super().set_alpn_protocols(["h2"])


class ApnsClient:
    """One HTTP/2 connection to APNs, reused for a batch of pushes."""

    def __init__(
        self,
        base_url: str,
        topic: str,
        cert: str = "",
        key: str = "",
        cafile: str | None = None,
        token: TokenAuth | None = None,
        timeout: float = 10.0,
    ):
        context = _H2OnlyContext(ssl.PROTOCOL_TLS_CLIENT)
        if cafile:
            context.load_verify_locations(cafile)
        else:
            context.load_default_certs()
        context.set_alpn_protocols(["h2"])
        if cert:
            context.load_cert_chain(cert, key or None)
        self.topic = topic
        self.token = token
        # Apple refuses a provider token renewed more often than every 20 minutes and one
        # older than an hour: make one, reuse it for 50 minutes
        self._jwt = ""
        self._jwt_at = 0.0
        # http1=False: APNs speaks only HTTP/2, and a silent fall-back would hide a setup error
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), http1=False, http2=True, verify=context, timeout=timeout
        )

    def push(self, push_token: str) -> str:
        """Send one update notice; returns the apns-id. Raises PushUnregistered or PushFailed."""
        headers = {"apns-topic": self.topic, "apns-push-type": "alert", "apns-priority": "5"}
        if self.token:
            now = time.time()
            if not self._jwt or now - self._jwt_at > 50 * 60:
                self._jwt, self._jwt_at = self.token.jwt(now), now
            headers["authorization"] = f"bearer {self._jwt}"
        try:
            response = self.client.post(f"/3/device/{push_token}", content=b"{}", headers=headers)
        except httpx.HTTPError as exc:
            raise PushFailed(f"APNs unreachable: {type(exc).__name__} {exc}") from None
        if response.status_code == 200:
            return response.headers.get("apns-id", "")
        reason = _reason(response)
        if response.status_code == 410 or reason in ("BadDeviceToken", "Unregistered"):
            raise PushUnregistered(reason or "Unregistered")
        raise PushFailed(f"APNs answered {response.status_code} {reason}".strip())

    def close(self) -> None:
        self.client.close()


def _reason(response) -> str:
    try:
        return str(response.json().get("reason", ""))
    except ValueError:
        return ""
