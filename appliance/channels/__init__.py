"""Delivery channels: one small class per way of reaching a member (email, SMS, wallet push).

A channel says where a member is reached (address), which consent and suppression columns
apply, whether a message interrupted mid-hand-over may be sent again, and how to send one
rendered message. Channels translate their library's errors into two of ours: `Offline`
(try again later; nothing is dropped) and `Rejected` (this message will never go).
The wallet issue plugs in by subclassing Channel and calling `register`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class Offline(Exception):
    """The server is unreachable or said "later": the message waits and is retried."""


class Rejected(Exception):
    """This message cannot be delivered (bad address, refused): failed, with the reason."""

    def __init__(self, message: str, bounce: bool = False):
        super().__init__(message)
        self.bounce = bounce


class Uncertain(Exception):
    """The hand-over may or may not have happened (a timeout after the request went out)."""


@dataclass
class Outgoing:
    """One rendered message for one member on one channel."""

    event_key: str
    member_id: int
    address: str
    subject: str = ""
    text: str = ""
    html: str = ""
    unsubscribe_url: str = ""
    extra: dict = field(default_factory=dict)


class Channel:
    """Base class. Subclasses set the class attributes and implement `send`."""

    name = ""
    address_column = ""  # member column with the address ("" if the channel has none)
    consent_column = ""  # member column whose time proves consent for marketing
    unsubscribed_column = ""
    bounced_column = ""
    # sending twice after a crash is harmless (email: same Message-ID, folded by receivers)
    resend_after_crash = False
    # addresses on the hashed suppression list (appliance.suppression) get no marketing here
    uses_suppression_list = False
    # messages rendered before the first of them is handed over (see EmailChannel)
    render_ahead = 1

    def __init__(self, box):
        self.box = box
        self.settings = box.settings

    def configured(self) -> bool:
        return False

    def open(self) -> None:
        """Connect (may raise Offline); one connection serves a batch."""

    def close(self) -> None:
        pass

    def defer_until(self, now: datetime) -> datetime | None:
        """A moment to wait for before sending at all (quiet hours), or None."""
        return None

    def send(self, out: Outgoing) -> str:
        """Deliver; returns the provider's id for the message. Raises Offline or Rejected."""
        raise NotImplementedError

    def suppression_sql(self, alias: str, erased: bool) -> str:
        """SQL CASE giving the reason a member gets no message here, or NULL."""
        m = alias
        whens = []
        if erased:
            whens.append(f"WHEN {m}.erased_at IS NOT NULL THEN 'erased'")
        if self.unsubscribed_column:
            whens.append(f"WHEN {m}.{self.unsubscribed_column} IS NOT NULL THEN 'unsubscribed'")
        if self.bounced_column:
            whens.append(f"WHEN {m}.{self.bounced_column} IS NOT NULL THEN 'bounced'")
        if self.address_column:
            col = f"{m}.{self.address_column}"
            whens.append(f"WHEN {col} IS NULL OR {col} = '' THEN 'no address'")
        if self.consent_column:
            whens.append(f"WHEN {m}.{self.consent_column} IS NULL THEN 'no consent'")
        if not whens:
            return "NULL"
        return "CASE " + " ".join(whens) + " ELSE NULL END"

    def transactional_suppression(self, member: dict) -> str | None:
        """Why a message the member asked for (no consent needed) cannot go, or None."""
        if member.get("erased_at") is not None:
            return "erased"
        if self.bounced_column and member.get(self.bounced_column) is not None:
            return "bounced"
        if self.address_column and not member.get(self.address_column):
            return "no address"
        return self.listed(member, ("bounced",))

    def listed(self, member: dict, reasons=None) -> str | None:
        """The suppression list's reason for the member's address (it outlives erasure)."""
        if not self.uses_suppression_list:
            return None
        from ..suppression import REASONS, reason_for

        return reason_for(self.box, self.name, member.get(self.address_column), reasons or REASONS)

    def suppression_reason(self, member: dict) -> str | None:
        """The same rules in Python, re-checked just before sending (consent may have gone)."""
        if member.get("erased_at") is not None:
            return "erased"
        if self.unsubscribed_column and member.get(self.unsubscribed_column) is not None:
            return "unsubscribed"
        if self.bounced_column and member.get(self.bounced_column) is not None:
            return "bounced"
        if self.address_column and not member.get(self.address_column):
            return "no address"
        listed = self.listed(member)
        if listed:
            return listed
        if self.consent_column and member.get(self.consent_column) is None:
            return "no consent"
        return None


REGISTRY: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    REGISTRY[cls.name] = cls
    return cls


def get(name: str, box) -> Channel:
    return REGISTRY[name](box)


from . import email as _email  # noqa: E402,F401  (registers itself)
from . import sms as _sms  # noqa: E402,F401
from . import wallet as _wallet  # noqa: E402,F401

__all__ = [
    "Channel",
    "Offline",
    "Outgoing",
    "REGISTRY",
    "Rejected",
    "Uncertain",
    "get",
    "register",
]
