"""Wallet passes that update themselves: Apple Wallet (.pkpass, PassKit web service, APNs)
and Google Wallet (loyalty class and objects over the REST API).

A tap marks the member's pass dirty (one upsert in the tap's transaction, see counter.py);
the worker sends the latest state of every dirty pass (updates.py).

The names below are loaded from their modules when first asked for: Apple's signing pulls
in cryptography and Pillow (~12 MB), which a process that only needs, say, the members'
wallet links (wallet.links, wallet.setup) need not carry (bench/memory.py).
"""

from __future__ import annotations

from importlib import import_module

_WHERE = {
    "PKPASS_TYPE": "apple",
    "AppleSigner": "apple",
    "PassStyle": "apple",
    "build_pkpass": "apple",
    "load_signer": "apple",
    "pass_files": "apple",
    "web_service_url": "apple",
    "CardState": "cards",
    "PassRecord": "cards",
    "WalletError": "cards",
    "card_state": "cards",
    "ensure_pass": "cards",
    "pass_by_serial": "cards",
    "check_pkpass": "check",
    "load_look": "setup",
    "logo_file": "setup",
    "setup_settings": "setup",
    "wallet_box": "setup",
    "make_apple_pass": "passes",
    "pass_style": "passes",
    "shop_name": "passes",
}


def __getattr__(name: str):
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "PKPASS_TYPE",
    "AppleSigner",
    "CardState",
    "PassRecord",
    "PassStyle",
    "WalletError",
    "build_pkpass",
    "card_state",
    "check_pkpass",
    "ensure_pass",
    "load_signer",
    "make_apple_pass",
    "pass_by_serial",
    "pass_style",
    "setup_settings",
    "wallet_box",
]
