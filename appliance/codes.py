"""Codes printed or shown to customers: Crockford base32, HMAC-signed, with a check symbol.

Layout (16 symbols, shown as four groups of four): KIND + 7 serial + 7 MAC + 1 check.
The MAC (35 bits of HMAC-SHA256 under the box's key) makes a typed or invented code fail
without any database lookup; the Crockford mod-37 check tells a typo from a forgery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Crockford's reading rules: letters people confuse with digits
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
CHECK_SYMBOLS = ALPHABET + "*~$=U"

KINDS = {"C": "card", "V": "voucher"}
SERIAL_LEN = 7
MAC_LEN = 7
CODE_LEN = 1 + SERIAL_LEN + MAC_LEN + 1


class CodeError(ValueError):
    """A code was refused. `reason` is malformed, mistyped or forged."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _check_value(symbols: str) -> int:
    number = 0
    for ch in symbols:
        number = (number * 32 + _VALUE[ch]) % 37
    return number


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    bits = int.from_bytes(digest[:8], "big") >> (64 - 5 * MAC_LEN)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in reversed(range(MAC_LEN)))


def make_code(key: bytes, kind: str) -> str:
    """A new random code of the kind ('C' card, 'V' voucher), in canonical form."""
    if kind not in KINDS:
        raise ValueError(f"unknown code kind {kind!r}")
    while True:
        serial = "".join(secrets.choice(ALPHABET) for _ in range(SERIAL_LEN))
        body = kind + serial
        body += _mac(key, body)
        check = _check_value(body)
        # keep only codes whose check symbol is a plain letter or digit: nothing odd to type
        if check < 32:
            return body + ALPHABET[check]


def normalize(text: str) -> str:
    """Uppercase, drop spaces and dashes, apply Crockford's O→0 and I/L→1."""
    return text.upper().replace("-", "").replace(" ", "").translate(_READ_AS)


def looks_like_code(text: str) -> bool:
    value = normalize(text)
    return (
        len(value) == CODE_LEN
        and value[0] in KINDS
        and all(ch in CHECK_SYMBOLS for ch in value[1:])
    )


def parse_code(key: bytes, text: str) -> tuple[str, str]:
    """Verify a code; returns (kind letter, canonical code). Raises CodeError."""
    value = normalize(text)
    if not looks_like_code(value):
        raise CodeError("malformed", "That is not a Stampbox code.")
    body, check = value[:-1], value[-1]
    if any(ch not in _VALUE for ch in body) or CHECK_SYMBOLS[_check_value(body)] != check:
        raise CodeError("mistyped", "The code does not add up: a symbol is probably mistyped.")
    if not hmac.compare_digest(_mac(key, body[: 1 + SERIAL_LEN]), body[1 + SERIAL_LEN :]):
        raise CodeError("forged", "This code was not issued by this shop.")
    return value[0], value


def format_code(code: str) -> str:
    """Groups of four for reading aloud: VABC-DEFG-HJKM-NPQR."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
