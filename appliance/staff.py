"""Staff accounts and device tokens; passwords and tokens are stored only as hashes.

Passwords are hashed with Argon2id (argon2-cffi's defaults). Hashes from before Argon2
(scrypt) still verify and are replaced by an Argon2 hash at the next successful login.
Failed logins are rows in the database, so the limit holds across every web worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
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
from .refusal import N_, Refusal

ROLES = ("owner", "staff")
_HASHER = PasswordHasher()
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10

# Guessing is slowed three ways within a window. Per (account, address) and per address the
# limit is hard: that address waits out the window. Per account (from every address) it is a
# back-off, never a lockout: after a few failures each further attempt waits a little longer
# than the last (1 s, 2 s, 4 s … 60 s), so someone elsewhere on the network guessing at the
# owner's account slows the guessing to about one a minute without locking the owner out; a
# browser the account logged in from before (known_device) is not held by the back-off.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILS_PER_PAIR = 5
MAX_FAILS_PER_ACCOUNT = MAX_FAILS_PER_PAIR  # the name older callers use: one address's limit
MAX_FAILS_PER_ADDRESS = 20
BACKOFF_AFTER = 5
MAX_BACKOFF = timedelta(seconds=60)


class StaffError(Refusal):
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
    # the password was given by someone else (setup slip, owner, CLI): choose one first
    must_change_password: bool = False


def staff_by_id(staff_id: int) -> StaffRef | None:
    # one plain query: this runs on every request of a logged-in person
    row = database.execute_sql(
        sql("SELECT id, username, role, must_change_password FROM staff_user WHERE id = ?"),
        (staff_id,),
    ).fetchone()
    return StaffRef(row[0], row[1], row[2], bool(row[3])) if row else None


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
        must_change_password=True,
    )
    audit("system", "owner.create", now, username="owner")
    return {"username": "owner", "password": password}


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    # set when the attempt was not even checked: too many recent failures
    throttled: bool = False
    # how long until an attempt will be checked again (whole seconds, at least 1)
    retry_after: int = 0


def _failures(where, since: datetime) -> list[datetime]:
    """The failures matching where since a moment, newest first."""
    query = LoginAttempt.select(LoginAttempt.at).where(where & (LoginAttempt.at >= since))
    return [row.at for row in query.order_by(LoginAttempt.at.desc())]


def backoff(failures: int) -> timedelta:
    """The account-wide wait after its latest failure, given its failures in the window."""
    if failures < BACKOFF_AFTER:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - BACKOFF_AFTER)), MAX_BACKOFF)


def wait_before_login(
    username: str, address: str, now, known_device: bool = False
) -> timedelta | None:
    """How long this attempt must wait before it is checked; None when it may go ahead."""
    since = now - LOGIN_WINDOW
    waits = []
    pair = _failures((LoginAttempt.account == username) & (LoginAttempt.address == address), since)
    if len(pair) >= MAX_FAILS_PER_PAIR:
        waits.append(pair[MAX_FAILS_PER_PAIR - 1] + LOGIN_WINDOW - now)
    by_address = _failures(LoginAttempt.address == address, since)
    if len(by_address) >= MAX_FAILS_PER_ADDRESS:
        waits.append(by_address[MAX_FAILS_PER_ADDRESS - 1] + LOGIN_WINDOW - now)
    if not known_device:
        account = _failures(LoginAttempt.account == username, since)
        if account:
            waits.append(account[0] + backoff(len(account)) - now)
    wait = max(waits, default=timedelta(0))
    return wait if wait > timedelta(0) else None


def throttled(username: str, address: str, now, known_device: bool = False) -> bool:
    """Too many recent failures for this account or from this address: do not even check."""
    return wait_before_login(username, address, now, known_device) is not None


def record_failure(username: str, address: str, now) -> None:
    with database.atomic():
        LoginAttempt.create(at=now, account=username, address=address)
        # old rows are only needed for the window: trim them as we go
        LoginAttempt.delete().where(LoginAttempt.at < now - 2 * LOGIN_WINDOW).execute()


def login(
    username: str, password: str, address: str, now=None, known_device: bool = False
) -> LoginResult:
    """Check a login, slowed down per address and per account (see LOGIN_WINDOW); upgrades
    old hashes. known_device: the browser proved this account logged in from it before."""
    now = now or utcnow()
    username = username.strip().lower()[:80]
    address = (address or "unknown")[:64]
    wait = wait_before_login(username, address, now, known_device)
    if wait is not None:
        return LoginResult(
            None, throttled=True, retry_after=max(1, math.ceil(wait.total_seconds()))
        )
    user = authenticate(username, password)
    if user is None:
        record_failure(username, address, now)
        return LoginResult(None)
    with database.atomic():
        # only this address is forgiven: a guesser elsewhere keeps the account's back-off
        LoginAttempt.delete().where(
            (LoginAttempt.account == username) & (LoginAttempt.address == address)
        ).execute()
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
        raise StaffError(N_("A password needs at least %(count)s characters."), count=MIN_PASSWORD)
    if len(password) > 200:
        raise StaffError(N_("A password may have at most 200 characters."))


def create_staff(
    username: str, password: str, role: str, actor: str, now=None, must_change: bool = True
) -> StaffUser:
    """An account whose first password someone else chose: by default it must be changed."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise StaffError(
            N_(
                "A username has 2 to 40 characters: lower-case letters, digits, dot, dash,"
                " underscore."
            )
        )
    if role not in ROLES:
        raise StaffError(N_("The role must be owner or staff."))
    _check_new_password(password)
    with database.atomic():
        if StaffUser.select().where(StaffUser.username == username).exists():
            raise StaffError(N_("There is already an account named %(name)s."), name=username)
        user = StaffUser.create(
            username=username,
            password_hash=hash_password(password),
            role=role,
            created_at=now or utcnow(),
            must_change_password=must_change,
        )
        audit(actor, "staff.create", now, username=username, role=role)
    return user


def set_password(user_id: int, password: str, actor: str, now=None) -> None:
    """Set by someone else (an owner, the CLI): the account chooses its own at next login."""
    _check_new_password(password)
    with database.atomic():
        user = StaffUser.get_by_id(user_id)
        must_change = user.username != actor
        StaffUser.update(
            password_hash=hash_password(password), must_change_password=must_change
        ).where(StaffUser.id == user_id).execute()
        audit(actor, "staff.password", now, username=user.username, must_change=must_change)


# a password someone chooses for themselves: long, not repetitive, not a keyboard run
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "0123456789" * 3, "qwertyuiopasdfghjklzxcvbnm")
_COMMON = ("password", "passw0rd", "stampbox", "letmein", "welcome", "admin", "owner")


def password_problem(password: str, username: str = "") -> StaffError | None:
    """Why a chosen password is too weak (a StaffError saying it); None when it is acceptable."""
    lowered = password.lower()
    if len(password) < MIN_PASSWORD:
        return StaffError(N_("A password needs at least %(count)s characters."), count=MIN_PASSWORD)
    if len(password) > 200:
        return StaffError(N_("A password may have at most 200 characters."))
    if len(set(password)) < 5:
        return StaffError(
            N_("Use at least 5 different characters: this password repeats too much.")
        )
    if any(lowered in run or lowered in run[::-1] for run in _RUNS):
        return StaffError(N_("A run of keys or digits is guessed first: choose something else."))
    if len(username) >= 3 and username.lower() in lowered:
        return StaffError(N_("The password must not contain the username."))
    if any(word in lowered for word in _COMMON) and len(set(lowered)) < 10:
        return StaffError(N_("That password is too common: add words only you would think of."))
    return None


def change_own_password(user_id: int, current: str, new: str, address: str = "", now=None) -> None:
    """Someone choosing their own password; the current one (one-time or not) proves who.

    Raises StaffError with a sentence: wrong current password (counted like a failed login,
    and refused while logins for the account are throttled), weak or unchanged new one.
    """
    now = now or utcnow()
    user = StaffUser.get_or_none(StaffUser.id == user_id)
    if user is None:
        raise StaffError(N_("There is no such account."))
    address = (address or "unknown")[:64]
    # a logged-in session: the account-wide back-off is for guessers who never got in
    if throttled(user.username, address, now, known_device=True):
        raise StaffError(N_("Too many wrong passwords. Wait 15 minutes and try again."))
    if not check_password(current, user.password_hash):
        record_failure(user.username, address, now)
        raise StaffError(N_("The current password is not right."))
    if new == current:
        raise StaffError(N_("The new password must differ from the one you were given."))
    problem = password_problem(new, user.username)
    if problem:
        raise problem
    with database.atomic():
        StaffUser.update(password_hash=hash_password(new), must_change_password=False).where(
            StaffUser.id == user_id
        ).execute()
        audit(
            user.username,
            "staff.password_change",
            now,
            username=user.username,
            first_login=bool(user.must_change_password),
            address=address,
        )


def delete_staff(user_id: int, actor: str, now=None) -> None:
    with database.atomic():
        user = StaffUser.get_or_none(StaffUser.id == user_id)
        if user is None:
            raise StaffError(N_("There is no such account."))
        owners = StaffUser.select().where(StaffUser.role == "owner").count()
        if user.role == "owner" and owners <= 1:
            raise StaffError(N_("The last owner account cannot be removed."))
        user.delete_instance()
        audit(actor, "staff.delete", now, username=user.username)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenError(Refusal):
    """A device token the owner cannot have as asked; the message says why."""


def create_device_token(name: str, now=None, actor: str = "owner") -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise TokenError(N_("Give the device a name of 1 to 64 characters."))
    if DeviceToken.select().where(DeviceToken.name == name).exists():
        raise TokenError(N_("A device named %(name)r already has a token."), name=name)
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
