"""What the owner's test page shows and does: the pass as phones would draw it, a sample
.pkpass to try on their own phone, a test push to a registered device, a Google check."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from ..clock import utcnow
from ..db import sql
from ..program import load_program
from ..refusal import N_, Sentence
from . import pass_style
from .apns import PushFailed, PushUnregistered
from .apple import STRINGS, AppleSigner, build_pkpass, load_signer, pass_files, pass_json
from .cards import CardState, PassRecord, WalletError, card_state, pass_by_serial
from .images import stamp_colours, strip_png
from .setup import wallet_box

SAMPLE_CODE = "SAMPLE0000000000"


@dataclass(frozen=True)
class PassPreview:
    organization: str
    fields: list  # (section, label, value) in the order the phone shows them
    barcode: str
    strip_png: bytes  # the stamp grid at 2x
    foreground: str
    background: str
    label: str
    sample: bool
    static: bool  # no https web service: Apple passes never update
    locations: list = field(default_factory=list)


@dataclass(frozen=True)
class _Ids:
    """The identifiers pass.json names when no certificate is there yet."""

    pass_type_id: str
    team_id: str


def sample_state(box) -> CardState:
    """A card three stamps short of its last reward, for trying the look."""
    program = load_program(box.db)
    needed = program.stamps_needed
    stamps = max(0, needed - 3)
    upcoming = [t for t in program.tiers if t.stamps > stamps] or [program.tiers[-1]]
    return CardState(
        member_id=0,
        name="Sample",
        code=SAMPLE_CODE,
        stamps=stamps,
        stamps_needed=needed,
        next_reward=upcoming[0].reward,
        stamps_to_next=upcoming[0].stamps - stamps,
    )


_SAMPLE_RECORD = PassRecord(0, "sample", "sample-pass-token-never-used", 0, 0)


def _existing_record(db, member_id: int) -> PassRecord | None:
    row = db.execute_sql(
        sql("SELECT serial FROM wallet_pass WHERE member_id = ?", db), (member_id,)
    ).fetchone()
    return pass_by_serial(db, row[0]) if row else None


def _signer_or_ids(settings):
    try:
        return load_signer(settings)
    except WalletError:
        return _Ids(settings.apple_pass_type_id, settings.apple_team_id)


def preview_pass(box, member_id: int | None = None, now: datetime | None = None) -> PassPreview:
    """The member's pass (or the sample) as plain data. Raises WalletError for a bad member."""
    now = now or utcnow()
    wbox = wallet_box(box)
    if member_id:
        state = card_state(box.db, member_id, now)
        # looking must not give the member a pass record (that marks a saved pass)
        record = _existing_record(box.db, member_id) or _SAMPLE_RECORD
    else:
        state, record = sample_state(box), _SAMPLE_RECORD
    style = pass_style(wbox)
    content = pass_json(state, record, _signer_or_ids(wbox.settings), style)
    labels = STRINGS["en"]
    fields = [
        (section, labels.get(f["label"], f["label"]), f["value"])
        for section in ("headerFields", "secondaryFields", "backFields")
        for f in content["storeCard"].get(section, [])
    ]
    colours = stamp_colours(style.background, style.foreground)
    return PassPreview(
        organization=style.organization,
        fields=fields,
        barcode=state.code,
        strip_png=strip_png(state.stamps, state.stamps_needed, 2, colours),
        foreground=style.foreground,
        background=style.background,
        label=style.label,
        sample=not member_id,
        static=not style.web_service_url,
        locations=content.get("locations", []),
    )


def sample_pkpass(box, now: datetime | None = None, signer: AppleSigner | None = None) -> bytes:
    """A signed sample pass (static: it never asks the box for updates). Raises WalletError."""
    wbox = wallet_box(box)
    signer = signer or load_signer(wbox.settings)
    style = pass_style(wbox)
    static = dataclasses.replace(style, web_service_url="")
    return build_pkpass(pass_files(sample_state(box), _SAMPLE_RECORD, signer, static), signer, now)


def registrations(db, limit: int = 50) -> list[dict]:
    """The devices that saved a pass, newest first, for choosing one to push to."""
    rows = db.execute_sql(
        sql(
            "SELECT r.id, r.device_id, r.serial, m.id, m.name FROM wallet_registration r"
            " JOIN wallet_pass w ON w.serial = r.serial JOIN member m ON m.id = w.member_id"
            " ORDER BY r.id DESC LIMIT ?",
            db,
        ),
        (limit,),
    ).fetchall()
    keys = ("id", "device", "serial", "member_id", "name")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def send_test_push(box, registration_id: int) -> str:
    """Push one registered device now. Returns what happened, as a sentence for the owner."""
    from .worker import apns_client

    wbox = wallet_box(box)
    row = box.db.execute_sql(
        sql("SELECT push_token FROM wallet_registration WHERE id = ?", box.db),
        (registration_id,),
    ).fetchone()
    if row is None:
        raise WalletError(N_("That device is no longer registered."))
    try:
        client = apns_client(wbox.settings)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: unusable files
        raise WalletError(
            N_("The APNs connection cannot be set up: %(problem)s"), problem=str(exc)
        ) from None
    try:
        apns_id = client.push(row[0])
    except PushUnregistered:
        box.db.execute_sql(
            sql("DELETE FROM wallet_registration WHERE id = ?", box.db), (registration_id,)
        )
        return Sentence(
            N_("Apple says this device removed the pass: its registration was deleted.")
        )
    except PushFailed as exc:
        raise WalletError(str(exc)) from None
    finally:
        client.close()
    return Sentence(N_("Apple accepted the push (apns-id %(id)s)."), id=apns_id or "-")


def check_google(box) -> str:
    """Sign in with the service account and create or update the shop's loyalty class."""
    from .google import GoogleWallet, box_google_config, loyalty_class

    config = box_google_config(box)
    try:
        client = GoogleWallet(config)
    except ValueError as exc:  # a key file set in the configuration, never checked by us
        raise WalletError(
            N_("The Google service account key is not usable: %(problem)s"), problem=str(exc)
        ) from None
    try:
        done = client.upsert_class(loyalty_class(config))
    except PushFailed as exc:
        raise WalletError(str(exc)) from None
    finally:
        client.close()
    return Sentence(
        N_("Google Wallet accepted the loyalty class %(name)s (%(done)s)."),
        name=config.class_id,
        done=done,
    )


__all__ = [
    "PassPreview",
    "check_google",
    "preview_pass",
    "registrations",
    "sample_pkpass",
    "send_test_push",
]
