"""Signed codes: round trip, reading rules, and refusal of typos and forgeries."""

import pytest

from appliance.codes import (
    ALPHABET,
    CODE_LEN,
    CodeError,
    _check_value,
    format_code,
    make_code,
    parse_code,
)

KEY = b"k" * 32


def test_a_new_code_verifies_under_its_key_and_reads_in_groups():
    code = make_code(KEY, "V")
    assert len(code) == CODE_LEN and code[0] == "V"
    assert all(ch in ALPHABET for ch in code)
    shown = format_code(code)
    assert shown.count("-") == 3
    assert parse_code(KEY, shown) == ("V", code)


def test_lowercase_and_crockford_lookalikes_are_read_as_meant():
    code = make_code(KEY, "C")
    typed = code.lower().replace("0", "o").replace("1", "l")
    assert parse_code(KEY, typed) == ("C", code)


def test_another_box_key_refuses_the_code_as_forged():
    code = make_code(KEY, "V")
    with pytest.raises(CodeError) as err:
        parse_code(b"x" * 32, code)
    assert err.value.reason == "forged"


def test_every_single_symbol_typo_is_caught_as_mistyped_or_forged():
    code = make_code(KEY, "V")
    for pos in range(1, CODE_LEN):
        for ch in ALPHABET:
            if ch == code[pos]:
                continue
            typo = code[:pos] + ch + code[pos + 1 :]
            with pytest.raises(CodeError) as err:
                parse_code(KEY, typo)
            assert err.value.reason in ("mistyped", "forged", "malformed")


def test_swapped_neighbours_are_caught_by_the_check_symbol():
    code = make_code(KEY, "C")
    caught = 0
    for pos in range(1, CODE_LEN - 2):
        if code[pos] == code[pos + 1]:
            continue
        swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
        with pytest.raises(CodeError) as err:
            parse_code(KEY, swapped)
        assert err.value.reason == "mistyped"
        caught += 1
    assert caught > 0


def test_the_check_symbol_is_always_a_plain_letter_or_digit():
    for _ in range(500):
        code = make_code(KEY, "V")
        assert _check_value(code[:-1]) < 32


@pytest.mark.parametrize("text", ["", "V123", "X" * CODE_LEN, "VVVV-VVVV-VVVV-VVVV-V", "V!!!"])
def test_malformed_text_is_not_a_code(text):
    with pytest.raises(CodeError):
        parse_code(KEY, text)
