"""Receipt documents: what a slip says, as plain data. The bridge renders them (ESC/POS, PNG).

A receipt is a list of blocks (text lines, rules, QR codes, barcodes, feeds). It carries no
printer commands and no bytes: one layout, several renderers. `to_dict`/`from_dict` is the JSON
stored in a print job.

Slips speak the shop's language (appliance.shop settings): the fixed words come from the web's
catalogues through the same Babel look-up as the members' messages, and dates are written the
language's way in the shop's zone. Text a printer cannot encode is drawn as a picture by the
renderer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from babel.dates import format_date, format_time

from . import box as box_mod
from .clock import from_micros, utcnow
from .codes import format_code, normalize
from .shop import load_shop_settings
from .wording import gettext, language

ALIGNS = ("left", "center", "right")
SHOP_TITLE = "Stampbox"


@dataclass(frozen=True)
class Text:
    text: str
    align: str = "left"
    bold: bool = False
    size: int = 1  # 1 normal, 2 double width and height (headlines, the code to read aloud)
    kind: str = field(default="text", init=False)


@dataclass(frozen=True)
class QR:
    data: str
    size: int = 6  # dots per module on the printer
    kind: str = field(default="qr", init=False)


@dataclass(frozen=True)
class Barcode:
    data: str
    symbology: str = "CODE128"
    kind: str = field(default="barcode", init=False)


@dataclass(frozen=True)
class Rule:
    kind: str = field(default="rule", init=False)


@dataclass(frozen=True)
class Feed:
    lines: int = 1
    kind: str = field(default="feed", init=False)


Block = Text | QR | Barcode | Rule | Feed
_BLOCKS = {cls.__dataclass_fields__["kind"].default: cls for cls in (Text, QR, Barcode, Rule, Feed)}


@dataclass(frozen=True)
class Receipt:
    """A slip: `kind` names the layout (voucher, reward, enrolment, ...), `blocks` its content."""

    kind: str
    blocks: tuple[Block, ...]
    title: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "title": self.title, "blocks": [asdict(b) for b in self.blocks]}

    @classmethod
    def from_dict(cls, data: dict) -> Receipt:
        """Raises ValueError for a block kind or field this version does not know."""
        blocks = []
        for raw in data["blocks"]:
            raw = dict(raw)
            block_cls = _BLOCKS.get(raw.pop("kind", None))
            if block_cls is None:
                raise ValueError(f"unknown receipt block {raw!r}")
            blocks.append(block_cls(**raw))
        return cls(data["kind"], tuple(blocks), data.get("title", ""))

    def text(self) -> str:
        """The slip's words, one block per line: for logs, tests and screen readers."""
        lines = []
        for block in self.blocks:
            if isinstance(block, Text):
                lines.append(block.text)
            elif isinstance(block, (QR, Barcode)):
                lines.append(f"[{block.kind} {block.data}]")
            elif isinstance(block, Rule):
                lines.append("-" * 8)
        return "\n".join(lines)


def slip_language(lang: str | None = None) -> str:
    """The language a slip is printed in: `lang` if given, else the shop's (English while no
    box is running, e.g. in a benchmark)."""
    if lang:
        return language(lang)
    if box_mod._current is None:
        return "en"
    return language(load_shop_settings().language)


def _t(lang: str, text: str, **values) -> str:
    """`text` in `lang`; %(name)s fields filled in after the look-up."""
    words = gettext(lang, text)
    return words % values if values else words


def _date_text(day: date, lang: str) -> str:
    # English keeps the slip's compact "24 Nov 2026"; other languages write dates their way
    return day.strftime("%d %b %Y") if lang == "en" else format_date(day, "medium", locale=lang)


def _moment_text(moment: datetime, zone, lang: str) -> str:
    local = moment.astimezone(zone)
    if lang == "en":
        return local.strftime("%d %b %Y %H:%M")
    return f"{_date_text(local.date(), lang)} {format_time(local.time(), 'short', locale=lang)}"


def _day(moment, zone, lang: str = "en") -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return _date_text(moment.astimezone(zone).date(), lang)


def last_valid_day(moment, zone) -> date:
    """The last day a validity ending at `moment` covers, in `zone`: the end is exclusive, so a
    birthday gift valid until midnight is valid through the day before (not the day after).
    `moment` is a datetime or its ISO text; slips, the counter screen and the admin all use it."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return (moment - timedelta(microseconds=1)).astimezone(zone).date()


def _last_day(moment, zone, lang: str = "en") -> str:
    return _date_text(last_valid_day(moment, zone), lang)


def _header(title: str, now: datetime, zone, lang: str = "en") -> list[Block]:
    return [
        Text(SHOP_TITLE, align="center", bold=True, size=2),
        Text(title, align="center", bold=True),
        Text(_moment_text(now, zone, lang), align="center"),
        Rule(),
    ]


def voucher_receipt(
    voucher: dict,
    member_name: str = "",
    *,
    now: datetime | None = None,
    zone=None,
    lang: str | None = None,
) -> Receipt:
    """The slip a customer keeps for a reward: the reward, the QR of the signed code, the code
    in groups of four to read aloud or type, and the validity.

    `voucher` is the core's voucher dict (code, reward, valid_from, valid_until, kind);
    `lang` defaults to the shop's language.
    """
    now = now or utcnow()
    lang = slip_language(lang)
    code = normalize(voucher["code"])
    birthday = voucher.get("kind") == "birthday"
    title = _t(lang, "Birthday gift") if birthday else _t(lang, "Your reward")
    blocks = _header(title, now, zone, lang)
    if birthday:
        greeting = (
            _t(lang, "Happy birthday, %(name)s!", name=member_name)
            if member_name
            else _t(lang, "Happy birthday!")
        )
        blocks.append(Text(greeting, align="center", bold=True))
    elif member_name:
        blocks.append(Text(_t(lang, "For %(name)s", name=member_name), align="center"))
    blocks += [
        Text(voucher["reward"], align="center", bold=True, size=2),
        Feed(),
        # the canonical code: a scanner at the counter reads it straight into the core
        QR(code),
        Feed(),
        Text(format_code(code), align="center", bold=True),
        Text(
            _t(
                lang,
                "Valid %(start)s to %(end)s",
                start=_day(voucher["valid_from"], zone, lang),
                end=_last_day(voucher["valid_until"], zone, lang),
            ),
            align="center",
        ),
        Text(
            _t(lang, "Show this slip at the counter to get your gift.")
            if birthday
            else _t(lang, "Show this slip at the counter."),
            align="center",
        ),
    ]
    return Receipt("birthday" if birthday else "voucher", tuple(blocks), title)


def reward_receipt(
    result: dict, *, now: datetime | None = None, zone=None, lang: str | None = None
) -> list[Receipt]:
    """One voucher slip per reward a tap unlocked (`result` is CounterResult.to_dict())."""
    name = (result.get("member") or {}).get("name") or ""
    lang = slip_language(lang)
    return [
        voucher_receipt(v, name, now=now, zone=zone, lang=lang)
        for v in result.get("unlocked") or []
    ]


def enrolment_receipt(
    signup_url: str,
    card_code: str,
    *,
    now: datetime | None = None,
    zone=None,
    wallet_url: str = "",
    lang: str | None = None,
) -> Receipt:
    """A new member's slip: the sign-up page as a QR, and the card's short code; with
    `wallet_url` (appliance.wallet.links) a second QR saves the card to the phone's wallet."""
    now = now or utcnow()
    lang = slip_language(lang)
    code = normalize(card_code)
    title = _t(lang, "Welcome!")
    blocks = _header(title, now, zone, lang) + [
        Text(_t(lang, "Scan to finish signing up:"), align="center"),
        QR(signup_url),
        Feed(),
        Text(_t(lang, "Your card"), align="center"),
        Text(format_code(code), align="center", bold=True),
        Barcode(code),
    ]
    if wallet_url:
        blocks += [Feed(), Text(_t(lang, "Save the card to your phone's wallet:"), align="center"),
                   QR(wallet_url)]  # fmt: skip
    return Receipt("enrolment", tuple(blocks), title)


def setup_receipt(
    url: str,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
    zone=None,
    lang: str | None = None,
) -> Receipt:
    """The first-boot slip: where the admin is and the owner's one-time login."""
    now = now or utcnow()
    lang = slip_language(lang)
    title = _t(lang, "Setup")
    blocks = _header(title, now, zone, lang) + [
        Text(_t(lang, "Open the admin page:"), align="center"),
        QR(url),
        Text(url, align="center"),
        Feed(),
        Text(_t(lang, "User: %(name)s", name=username), bold=True),
        Text(_t(lang, "Password: %(password)s", password=password), bold=True),
        Text(_t(lang, "It works once: you choose your own password at the first login.")),
        Text(_t(lang, "Then throw this slip away.")),
    ]
    return Receipt("setup", tuple(blocks), title)


def printer_test_receipt(
    *, now: datetime | None = None, zone=None, width: int = 80, lang: str | None = None
) -> Receipt:
    """`stampbox print test`: every block kind, the code page's special letters, a QR.

    In the shop's language: a Hebrew, Kazakh or Chinese shop sees its own letters print (the
    printer's code page cannot carry them: they are drawn, as on every slip of that shop)."""
    now = now or utcnow()
    lang = slip_language(lang)
    title = _t(lang, "Printer test")
    blocks = _header(title, now, zone, lang) + [
        Text(_t(lang, "Paper: %(width)s mm", width=width)),
        Text(_t(lang, "Left")),
        Text(_t(lang, "Centre"), align="center"),
        Text(_t(lang, "Right"), align="right"),
        Text(_t(lang, "Bold"), bold=True),
        Text(_t(lang, "Big"), size=2),
        Text("Café crème 2,50 € · Grüße · Ñandú"),
        QR("STAMPBOX PRINTER TEST"),
        Barcode("STAMPBOX"),
    ]
    return Receipt("test", tuple(blocks), title)


def day_summary_receipt(
    day_start: datetime, day_end: datetime, *, box=None, lang: str | None = None
) -> Receipt:
    """The end-of-day slip: visits, stamps, new members, vouchers issued and redeemed."""
    box = box or box_mod.current()
    lang = slip_language(lang)
    db = box.db
    p = db.param
    start, end = int(day_start.timestamp() * 1e6), int(day_end.timestamp() * 1e6)

    def one(query: str) -> int:
        return db.execute_sql(query.replace("?", p), (start, end)).fetchone()[0] or 0

    visits = one("SELECT COUNT(*) FROM visit WHERE at >= ? AND at < ?")
    stamps = one("SELECT SUM(stamps) FROM visit WHERE at >= ? AND at < ?")
    members = one("SELECT COUNT(*) FROM member WHERE joined_at >= ? AND joined_at < ?")
    issued = one("SELECT COUNT(*) FROM voucher WHERE issued_at >= ? AND issued_at < ?")
    redeemed = one("SELECT COUNT(*) FROM voucher WHERE redeemed_at >= ? AND redeemed_at < ?")
    zone = box.zone
    title = _t(lang, "End of day")
    counts = (
        ("Visits", visits),
        ("Stamps", stamps),
        ("New members", members),
        ("Rewards unlocked", issued),
        ("Rewards redeemed", redeemed),
    )
    blocks = _header(title, day_end, zone, lang) + [
        Text(_day(day_start, zone, lang), align="center", bold=True),
        *(Text(f"{_t(lang, label):<17} {count:>6}") for label, count in counts),
    ]
    return Receipt("day_summary", tuple(blocks), title)


def voucher_receipt_for_code(
    text: str, *, now: datetime | None = None, box=None, lang: str | None = None
) -> Receipt:
    """The slip of an issued voucher, looked up by its code. Raises LookupError if unknown."""
    box = box or box_mod.current()
    db = box.db
    row = db.execute_sql(
        "SELECT v.code, v.kind, v.reward, v.valid_from, v.valid_until, m.name FROM voucher v"
        " JOIN member m ON m.id = v.member_id WHERE v.code = " + db.param,
        (normalize(text),),
    ).fetchone()
    if row is None:
        raise LookupError(f"No voucher {text!r} on this box.")
    code, kind, reward, start, end, name = row
    voucher = {
        "code": code,
        "kind": kind,
        "reward": reward,
        "valid_from": from_micros(start),
        "valid_until": from_micros(end),
    }
    return voucher_receipt(voucher, name or "", now=now, zone=box.zone, lang=lang)
