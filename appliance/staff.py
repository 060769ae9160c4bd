"""Staff accounts and device tokens; passwords and tokens are stored only as hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from .audit import audit
from .clock import utcnow
from .models import DeviceToken, StaffUser

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def create_owner(now=None) -> dict | None:
    """Create the owner with a generated password the first time; None if one exists."""
    if StaffUser.select().where(StaffUser.role == "owner").exists():
        return None
    password = secrets.token_urlsafe(12)
    StaffUser.create(
        username="owner",
        password_hash=hash_password(password),
        role="owner",
        created_at=now or utcnow(),
    )
    audit("system", "owner.create", now, username="owner")
    return {"username": "owner", "password": password}


def authenticate(username: str, password: str) -> StaffUser | None:
    user = StaffUser.get_or_none(StaffUser.username == username)
    if user is None:
        # spend the same time as a real check so usernames cannot be probed by timing
        check_password(password, hash_password("x"))
        return None
    return user if check_password(password, user.password_hash) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenError(ValueError):
    pass


def create_device_token(name: str, now=None) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise TokenError("Give the device a name of 1 to 64 characters.")
    if DeviceToken.select().where(DeviceToken.name == name).exists():
        raise TokenError(f"A device named {name!r} already has a token.")
    token = "sbx_" + secrets.token_urlsafe(32)
    DeviceToken.create(name=name, token_hash=_token_hash(token), created_at=now or utcnow())
    audit("owner", "device_token.create", now, name=name)
    return token


def device_for_token(token: str, now=None) -> DeviceToken | None:
    if not token or len(token) > 200:
        return None
    device = DeviceToken.get_or_none(
        (DeviceToken.token_hash == _token_hash(token)) & DeviceToken.revoked_at.is_null()
    )
    if device is not None:
        DeviceToken.update(last_used_at=now or utcnow()).where(
            DeviceToken.id == device.id
        ).execute()
    return device


def revoke_device_token(name: str, now=None) -> bool:
    """Stop a device's token from working; False if no such active token."""
    changed = (
        DeviceToken.update(revoked_at=now or utcnow())
        .where((DeviceToken.name == name) & DeviceToken.revoked_at.is_null())
        .execute()
    )
    if changed:
        audit("owner", "device_token.revoke", now, name=name)
    return bool(changed)
