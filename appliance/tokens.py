"""What a reader or scanner delivered: an NFC UID, or a card/voucher code (raw or in a QR URL)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .codes import looks_like_code, normalize

MAX_TOKEN_LEN = 512
# 4-, 7- and 10-byte ISO 14443 UIDs, as hex, optionally separated by : - or spaces
_UID = re.compile(r"^(?:[0-9A-F]{2}[:\- ]?){3,9}[0-9A-F]{2}$")
UID_BYTES = (4, 7, 10)


class BadToken(ValueError):
    """Input that is no token at all (empty, too long, binary, unrecognised)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Token:
    kind: str  # "nfc" | "code"
    value: str  # canonical UID hex or canonical code


def normalize_uid(text: str) -> str | None:
    """Canonical uppercase hex of an NFC UID, or None if the text is not one."""
    value = text.strip().upper()
    if not _UID.match(value):
        return None
    value = re.sub(r"[:\- ]", "", value)
    return value if len(value) // 2 in UID_BYTES and len(value) % 2 == 0 else None


def is_random_uid(uid: str) -> bool:
    """Phones and bank cards answer with a fresh random 4-byte UID (first byte 08) every tap."""
    return len(uid) == 8 and uid.startswith("08")


def _code_from_url(text: str) -> str | None:
    parts = urlsplit(text)
    for key in ("c", "v", "code"):
        for value in parse_qs(parts.query).get(key, []):
            if looks_like_code(value):
                return value
    last = parts.path.rstrip("/").rpartition("/")[2]
    return last if looks_like_code(last) else None


def classify(raw) -> Token:
    """Turn raw input into a Token. Raises BadToken with a sentence for staff."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise BadToken("bad_token", "Unreadable scan: it contained binary data.") from None
    if not isinstance(raw, str):
        raise BadToken("bad_token", "Unreadable scan.")
    if len(raw) > MAX_TOKEN_LEN:
        raise BadToken("bad_token", f"Scan too long ({len(raw)} characters): not a Stampbox code.")
    text = raw.strip(" \r\n\t")
    if not text:
        raise BadToken("bad_token", "Empty scan: nothing was read. Try again.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise BadToken("bad_token", "Unreadable scan: it contained control characters.")
    if not text.isascii():
        raise BadToken("unrecognised", "This is not a Stampbox card or voucher.")
    uid = normalize_uid(text)
    if uid:
        return Token("nfc", uid)
    if "/" in text:
        code = _code_from_url(text)
        if code:
            return Token("code", normalize(code))
    elif looks_like_code(text):
        return Token("code", normalize(text))
    raise BadToken("unrecognised", "This is not a Stampbox card or voucher.")
