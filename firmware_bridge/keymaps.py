"""What a keyboard-wedge scanner's keys mean, per keyboard layout: (keycode, level) -> text.

Levels: 0 plain, 1 Shift, 2 AltGr. A scanner is set to type for one layout; reading its
keystrokes with another garbles every symbol (FIELD-NOTES: "/" becomes "-" under German).
Dead keys (´ ` ^ ¨ on de/fr) are left out: no barcode we read carries them.
"""

from __future__ import annotations

from evdev import ecodes as e

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _letters(swap: dict[str, str] | None = None) -> dict[tuple[int, int], str]:
    swap = swap or {}
    table = {}
    for letter in LETTERS:
        code = getattr(e, f"KEY_{letter.upper()}")
        char = swap.get(letter, letter)
        table[(code, 0)], table[(code, 1)] = char, char.upper()
    return table


def _row(keys: list[int], plain: str, shifted: str) -> dict[tuple[int, int], str]:
    table = {}
    for code, low, high in zip(keys, plain, shifted, strict=True):
        table[(code, 0)], table[(code, 1)] = low, high
    return table


_DIGITS = [e.KEY_1, e.KEY_2, e.KEY_3, e.KEY_4, e.KEY_5, e.KEY_6, e.KEY_7, e.KEY_8, e.KEY_9, e.KEY_0]
_COMMON = {(e.KEY_SPACE, 0): " ", (e.KEY_SPACE, 1): " "}
for _pad, _char in zip(
    [e.KEY_KP0, e.KEY_KP1, e.KEY_KP2, e.KEY_KP3, e.KEY_KP4]
    + [e.KEY_KP5, e.KEY_KP6, e.KEY_KP7, e.KEY_KP8, e.KEY_KP9],
    "0123456789",
    strict=True,
):
    _COMMON[(_pad, 0)] = _char

US = {
    **_COMMON,
    **_letters(),
    **_row(_DIGITS, "1234567890", "!@#$%^&*()"),
    **_row(
        [e.KEY_MINUS, e.KEY_EQUAL, e.KEY_LEFTBRACE, e.KEY_RIGHTBRACE, e.KEY_BACKSLASH],
        "-=[]\\",
        "_+{}|",
    ),
    **_row(
        [e.KEY_SEMICOLON, e.KEY_APOSTROPHE, e.KEY_GRAVE, e.KEY_COMMA, e.KEY_DOT, e.KEY_SLASH],
        ";'`,./",
        ':"~<>?',
    ),
}

DE = {
    **_COMMON,
    **_letters({"y": "z", "z": "y"}),
    **_row(_DIGITS, "1234567890", '!"§$%&/()='),
    **_row(
        [e.KEY_MINUS, e.KEY_LEFTBRACE, e.KEY_RIGHTBRACE, e.KEY_BACKSLASH, e.KEY_102ND],
        "ßü+#<",
        "?Ü*'>",
    ),
    **_row(
        [e.KEY_SEMICOLON, e.KEY_APOSTROPHE, e.KEY_COMMA, e.KEY_DOT, e.KEY_SLASH],
        "öä,.-",
        "ÖÄ;:_",
    ),
    (e.KEY_GRAVE, 1): "°",
    (e.KEY_Q, 2): "@",
    (e.KEY_E, 2): "€",
    (e.KEY_7, 2): "{",
    (e.KEY_8, 2): "[",
    (e.KEY_9, 2): "]",
    (e.KEY_0, 2): "}",
    (e.KEY_MINUS, 2): "\\",
    (e.KEY_RIGHTBRACE, 2): "~",
    (e.KEY_102ND, 2): "|",
}

FR = {
    **_COMMON,
    **_letters({"q": "a", "a": "q", "w": "z", "z": "w"}),
    # on AZERTY the M is where US has the semicolon, and the comma key types ","
    (e.KEY_SEMICOLON, 0): "m",
    (e.KEY_SEMICOLON, 1): "M",
    **_row(_DIGITS, "&é\"'(-è_çà", "1234567890"),
    **_row(
        [e.KEY_MINUS, e.KEY_EQUAL, e.KEY_RIGHTBRACE, e.KEY_APOSTROPHE, e.KEY_BACKSLASH],
        ")=$ù*",
        "°+£%µ",
    ),
    **_row([e.KEY_M, e.KEY_COMMA, e.KEY_DOT, e.KEY_SLASH, e.KEY_102ND], ",;:!<", "?./§>"),
    (e.KEY_2, 2): "~",
    (e.KEY_3, 2): "#",
    (e.KEY_4, 2): "{",
    (e.KEY_5, 2): "[",
    (e.KEY_6, 2): "|",
    (e.KEY_8, 2): "\\",
    (e.KEY_0, 2): "@",
    (e.KEY_MINUS, 2): "]",
    (e.KEY_EQUAL, 2): "}",
    (e.KEY_E, 2): "€",
}

LAYOUTS = {"us": US, "de": DE, "fr": FR}
SHIFT_KEYS = frozenset({e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT})
ALTGR_KEYS = frozenset({e.KEY_RIGHTALT})
END_KEYS = frozenset({e.KEY_ENTER, e.KEY_KPENTER, e.KEY_TAB})
