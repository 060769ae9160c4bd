"""The content and parameters each automation starts with, until the owner saves their own.

English, for every language (an owner adds their languages in the admin). Two defaults follow
the shop rather than being fixed: see default_content.
"""

from __future__ import annotations

import copy

DEFAULTS = {
    "reward_unlocked": {
        "params": {"delay_hours": 2},
        "content": {
            "email": {
                "": {
                    "subject": "Your reward is ready: {{reward}}",
                    "text": "Hello {{first_name}},\n\nyour card is full: {{reward}} is waiting for"
                    " you. Show this code at the counter: {{voucher_code}}\n\nSee you soon!",
                }
            },
            "sms": {
                "": {"text": "{{shop_name}}: {{reward}} is ready for you. Code {{voucher_code}}"}
            },
        },
    },
    "reward_reminder": {
        "params": {"days_before": 7},
        "content": {
            "email": {
                "": {
                    "subject": "Your {{reward}} expires soon",
                    "text": "Hello {{first_name}},\n\ndon't miss your {{reward}}: use code"
                    " {{voucher_code}} before it expires.",
                }
            },
            "sms": {"": {"text": "{{shop_name}}: your {{reward}} expires soon ({{voucher_code}})"}},
        },
    },
    "win_back": {
        # only spells that began within the last catch_up_days: switching win-back on does
        # not mail everyone who lapsed years ago, and a box off for a few days catches up
        "params": {"days": 30, "catch_up_days": 14},
        "content": {
            "email": {
                "": {
                    "subject": "We miss you, {{first_name}}",
                    "text": "Hello {{first_name}},\n\nit's been a while! You have {{stamps}}"
                    " stamps; {{stamps_left}} more and {{reward}} is yours.",
                }
            },
            "sms": {
                "": {"text": "{{shop_name}} misses you! {{stamps_left}} stamps to {{reward}}."}
            },
        },
    },
    "birthday": {
        # the gift itself is issued by appliance.birthdays (one per birthday year); this is
        # its announcement, one per member per birthday year and channel
        "params": {},
        "content": {
            "email": {
                "": {
                    "subject": "Happy birthday, {{first_name}}!",
                    "text": "Hello {{first_name}},\n\nhappy birthday from {{shop_name}}! A"
                    " {{reward}} is waiting for you: show code {{voucher_code}} at the counter.",
                }
            },
            "sms": {
                "": {"text": "Happy birthday from {{shop_name}}! Your {{reward}}: {{voucher_code}}"}
            },
        },
        # the gift of the "card" kind (appliance.birthdays.KINDS) has no code to show: the
        # member's card carries it, and the staff see it when the card is tapped
        "card_content": {
            "email": {
                "": {
                    "subject": "Happy birthday, {{first_name}}!",
                    "text": "Hello {{first_name}},\n\nhappy birthday from {{shop_name}}! A"
                    " {{reward}} is waiting for you on your stamp card: show your card at the"
                    " counter.",
                }
            },
            "sms": {
                "": {
                    "text": "Happy birthday from {{shop_name}}! Your {{reward}} is on your stamp"
                    " card: show it at the counter."
                }
            },
        },
    },
    "welcome": {
        "params": {"catch_up_days": 7},
        "content": {
            "email": {
                "": {
                    "subject": "Welcome to {{shop_name}}",
                    "text": "Hello {{first_name}},\n\nwelcome! Every visit earns a stamp;"
                    " {{stamps_left}} stamps and {{reward}} is yours.",
                }
            },
            "sms": {
                "": {"text": "Welcome to {{shop_name}}! {{stamps_left}} stamps to {{reward}}."}
            },
        },
    },
}


def default_content(name: str, box) -> dict:
    """The content an automation has until the owner writes their own (a fresh copy).

    Two follow the shop: the birthday announcement reads right for the gift's kind (a code
    to show, or the card itself), and the welcome carries the wallet sentence once a wallet
    is set up, the same one the wallet admin's button adds to an owner's own welcome.
    """
    content = DEFAULTS[name]["content"]
    if name == "birthday":
        from .birthdays import load_gift

        if load_gift().kind == "card":
            content = DEFAULTS[name]["card_content"]
    content = copy.deepcopy(content)
    if name == "welcome":
        from .wallet.links import WELCOME_LINE, wallets_ready

        if any(wallets_ready(box).values()):
            for locale, parts in content.get("email", {}).items():
                line = WELCOME_LINE.get(locale.split("-")[0], WELCOME_LINE["en"])
                parts["text"] = parts["text"].rstrip() + "\n\n" + line
    return content
