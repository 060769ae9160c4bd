"""Staff accounts and device tokens; passwords and tokens are stored only as hashes.

Passwords are hashed with Argon2id (argon2-cffi's defaults). Hashes from before Argon2
(scrypt) still verify and are replaced by an Argon2 hash at the next successful login.
Failed logins are rows in the database, so the limit holds across every web worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .audit import audit
from .clock import utcnow
from .db import database, sql
from .models import DeviceToken, LoginAttempt, StaffUser

ROLES = ("owner", "staff")
_HASHER = PasswordHasher()
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10

# failed logins allowed per window, per account and per address
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILS_PER_ACCOUNT = 5
MAX_FAILS_PER_ADDRESS = 20


class StaffError(ValueError):
    """Account data the owner has to correct; the message says what."""


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _check_scrypt(password: str, stored: str) -> bool:
    try:
        _, salt_b64, digest_b64 = stored.split("$")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return hmac.compare_digest(digest, expected)


def check_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _check_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return stored.startswith("scrypt$") or _HASHER.check_needs_rehash(stored)


@dataclass(frozen=True)
class StaffRef:
    """Who is logged in, as every web request needs it."""

    id: int
    username: str
    role: str


def staff_by_id(staff_id: int) -> StaffRef | None:
    # one plain query: this runs on every request of a logged-in person
    row = database.execute_sql(
        sql("SELECT id, username, role FROM staff_user WHERE id = ?"), (staff_id,)
    ).fetchone()
    return StaffRef(*row) if row else None


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


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    # set when the attempt was not even checked: too many recent failures
    throttled: bool = False


def _recent_failures(column, value: str, since: datetime) -> int:
    return LoginAttempt.select().where((column == value) & (LoginAttempt.at >= since)).count()


def login(username: str, password: str, address: str, now=None) -> LoginResult:
    """Check a login, slowed down per account and per address; upgrades old hashes."""
    now = now or utcnow()
    username = username.strip().lower()[:80]
    address = (address or "unknown")[:64]
    since = now - LOGIN_WINDOW
    if (
        _recent_failures(LoginAttempt.account, username, since) >= MAX_FAILS_PER_ACCOUNT
        or _recent_failures(LoginAttempt.address, address, since) >= MAX_FAILS_PER_ADDRESS
    ):
        return LoginResult(None, throttled=True)
    user = authenticate(username, password)
    with database.atomic():
        if user is None:
            LoginAttempt.create(at=now, account=username, address=address)
            # old rows are only needed for the window: trim them as we go
            LoginAttempt.delete().where(LoginAttempt.at < since - LOGIN_WINDOW).execute()
        else:
            LoginAttempt.delete().where(LoginAttempt.account == username).execute()
            audit(user.username, "staff.login", now, address=address)
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
                StaffUser.update(password_hash=user.password_hash).where(
                    StaffUser.id == user.id
                ).execute()
    return LoginResult(user)


def authenticate(username: str, password: str) -> StaffUser | None:
    user = StaffUser.get_or_none(StaffUser.username == username)
    if user is None:
        # spend the same time as a real check so usernames cannot be probed by timing
        check_password(password, _DUMMY_HASH)
        return None
    return user if check_password(password, user.password_hash) else None


_DUMMY_HASH = _HASHER.hash(secrets.token_hex(8))


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"A password needs at least {MIN_PASSWORD} characters.")
    if len(password) > 200:
        raise StaffError("A password may have at most 200 characters.")


def create_staff(username: str, password: str, role: str, actor: str, now=None) -> StaffUser:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise StaffError(
            "A username has 2 to 40 characters: lower-case letters, digits, dot, dash, underscore."
        )
    if role not in ROLES:
        raise StaffError("The role must be owner or staff.")
    _check_new_password(password)
    with database.atomic():
        if StaffUser.select().where(StaffUser.username == username).exists():
            raise StaffError(f"There is already an account named {username}.")
        user = StaffUser.create(
            username=username,
            password_hash=hash_password(password),
            role=role,
            created_at=now or utcnow(),
        )
        audit(actor, "staff.create", now, username=username, role=role)
    return user


def set_password(user_id: int, password: str, actor: str, now=None) -> None:
    _check_new_password(password)
    with database.atomic():
        user = StaffUser.get_by_id(user_id)
        StaffUser.update(password_hash=hash_password(password)).where(
            StaffUser.id == user_id
        ).execute()
        audit(actor, "staff.password", now, username=user.username)


def delete_staff(user_id: int, actor: str, now=None) -> None:
    with database.atomic():
        user = StaffUser.get_or_none(StaffUser.id == user_id)
        if user is None:
            raise StaffError("There is no such account.")
        owners = StaffUser.select().where(StaffUser.role == "owner").count()
        if user.role == "owner" and owners <= 1:
            raise StaffError("The last owner account cannot be removed.")
        user.delete_instance()
        audit(actor, "staff.delete", now, username=user.username)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenError(ValueError):
    pass


def create_device_token(name: str, now=None, actor: str = "owner") -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise TokenError("Give the device a name of 1 to 64 characters.")
    if DeviceToken.select().where(DeviceToken.name == name).exists():
        raise TokenError(f"A device named {name!r} already has a token.")
    token = "sbx_" + secrets.token_urlsafe(32)
    DeviceToken.create(name=name, token_hash=_token_hash(token), created_at=now or utcnow())
    audit(actor, "device_token.create", now, name=name)
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


def revoke_device_token(name: str, now=None, actor: str = "owner") -> bool:
    """Stop a device's token from working; False if no such active token."""
    changed = (
        DeviceToken.update(revoked_at=now or utcnow())
        .where((DeviceToken.name == name) & DeviceToken.revoked_at.is_null())
        .execute()
    )
    if changed:
        audit(actor, "device_token.revoke", now, name=name)
    return bool(changed)
