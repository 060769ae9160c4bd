"""Campaigns: a segment, channels and content; queued as outbox rows, one per member and channel.

Queueing is one INSERT ... SELECT per channel over the segment's SQL, with the channel's
suppression rules as a CASE: consent missing, unsubscribed, bounced or erased members get a
"suppressed" row with the reason, so the owner sees them counted. The unique key
(event_key "campaign:<id>:<member>", channel) makes sending twice add nothing.
"""

from __future__ import annotations

import json
from datetime import datetime

from . import box as box_mod
from . import channels, segments
from .audit import audit
from .clock import from_micros, iso, to_micros, utcnow
from .db import sql
from .messages import ContentError, check_sms, check_template
from .refusal import N_, Refusal

STATES = ("draft", "scheduled", "queued", "cancelled")
DAY_US = 86_400_000_000


class CampaignError(Refusal):
    """A campaign that cannot be created, sent or cancelled as asked: the message says why."""


def _has_erased(db) -> bool:
    # member.erased_at arrives with the admin's schema; suppression counts it when present
    return any(c.name == "erased_at" for c in db.get_columns("member"))


def check_content(channel_names: list[str], content: dict) -> None:
    for name in channel_names:
        per_locale = content.get(name) or {}
        if not per_locale:
            raise CampaignError(N_("The %(channel)s channel needs content."), channel=name)
        for locale, parts in per_locale.items():
            # the language is a code (he, zh): it reads the same in every catalogue
            where = {"channel": name, "language": f" ({locale})" if locale else ""}
            if name == "email":
                if not (parts.get("subject") or "").strip():
                    raise CampaignError(
                        N_("The %(channel)s content%(language)s needs a subject."), **where
                    )
                if not (parts.get("text") or "").strip():
                    raise CampaignError(
                        N_("The %(channel)s content%(language)s needs a text part."), **where
                    )
            elif not (parts.get("text") or "").strip():
                raise CampaignError(
                    N_("The %(channel)s content%(language)s needs a text."), **where
                )
            try:
                for key, value in parts.items():
                    if value:
                        check_template(value, f"{name}{where['language']} {key}")
                if name == "sms":
                    check_sms(parts["text"], f"{name}{where['language']} text")
            except ContentError as exc:
                raise CampaignError.wrapping(exc) from None


def _checked(name, segment, params, channel_names, content, voucher_reward, voucher_days, box):
    """The campaign's fields cleaned and checked; raises CampaignError or SegmentError."""
    name = " ".join(str(name).split())
    if not name or len(name) > 120:
        raise CampaignError(N_("A campaign needs a name of 1 to 120 characters."))
    channel_names = list(dict.fromkeys(channel_names))
    unknown = [c for c in channel_names if c not in channels.REGISTRY]
    if not channel_names or unknown:
        raise CampaignError(
            N_("Channels must be some of %(known)s."), known=", ".join(channels.REGISTRY)
        )
    seg = segments.resolve(segment, params, box=box)  # refuses unknown names and bad params
    # only the chosen channels' content is kept: a channel switched off leaves nothing behind
    content = {c: content[c] for c in channel_names if c in content}
    check_content(channel_names, content)
    voucher_reward = (voucher_reward or "").strip() or None
    if voucher_reward is not None and len(voucher_reward) > 120:
        raise CampaignError(N_("A voucher reward needs 1 to 120 characters."))
    if voucher_reward and not 1 <= (voucher_days or 0) <= 3650:
        raise CampaignError(N_("Campaign vouchers must last between 1 and 3650 days."))
    return (
        name,
        seg,
        channel_names,
        content,
        voucher_reward,
        voucher_days if voucher_reward else None,
    )


def create_campaign(
    name: str,
    segment: str,
    params: dict | None,
    channel_names: list[str],
    content: dict,
    *,
    voucher_reward: str | None = None,
    voucher_days: int | None = 30,
    now: datetime | None = None,
    actor: str = "owner",
    box=None,
) -> dict:
    box = box or box_mod.current()
    now = now or utcnow()
    name, seg, channel_names, content, voucher_reward, voucher_days = _checked(
        name, segment, params, channel_names, content, voucher_reward, voucher_days, box
    )
    db = box.db
    with db.atomic():
        cursor = db.execute_sql(
            sql(
                "INSERT INTO campaign (name, segment, params, channels, content, voucher_reward,"
                " voucher_days, state, recipients, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'draft', 0, ?) RETURNING id",
                db,
            ),
            (
                name,
                segment,
                json.dumps(params or {}),
                json.dumps(channel_names),
                json.dumps(content),
                voucher_reward,
                voucher_days,
                to_micros(now),
            ),
        )
        # RETURNING, not lastrowid: the PostgreSQL driver has no lastrowid
        campaign_id = cursor.fetchone()[0]
        audit(actor, "campaign.create", now, id=campaign_id, name=name, segment=seg.name)
    return load(campaign_id, box)


def update_campaign(
    campaign_id: int,
    name: str,
    segment: str,
    params: dict | None,
    channel_names: list[str],
    content: dict,
    *,
    voucher_reward: str | None = None,
    voucher_days: int | None = 30,
    now: datetime | None = None,
    actor: str = "owner",
    box=None,
) -> dict:
    """Change a draft or scheduled campaign (one already queued has gone out: it stays)."""
    box = box or box_mod.current()
    now = now or utcnow()
    current = load(campaign_id, box)
    if current["state"] not in ("draft", "scheduled"):
        raise CampaignError(
            N_(
                "Campaign %(id)s is %(state)s: only a draft or a scheduled campaign can be changed."
            ),
            id=campaign_id,
            state=current["state"],
        )
    name, seg, channel_names, content, voucher_reward, voucher_days = _checked(
        name, segment, params, channel_names, content, voucher_reward, voucher_days, box
    )
    db = box.db
    with db.atomic():
        db.execute_sql(
            sql(
                "UPDATE campaign SET name = ?, segment = ?, params = ?, channels = ?, content = ?,"
                " voucher_reward = ?, voucher_days = ? WHERE id = ? AND state IN"
                " ('draft', 'scheduled')",
                db,
            ),
            (
                name,
                segment,
                json.dumps(params or {}),
                json.dumps(channel_names),
                json.dumps(content),
                voucher_reward,
                voucher_days,
                campaign_id,
            ),
        )
        audit(actor, "campaign.update", now, id=campaign_id, name=name, segment=seg.name)
    return load(campaign_id, box)


def list_campaigns(limit: int = 200, box=None) -> list[dict]:
    """The newest campaigns with their messages counted by state (one grouped query)."""
    box = box or box_mod.current()
    db = box.db
    rows = db.execute_sql(
        sql(
            "SELECT id, name, segment, state, scheduled_at, queued_at, recipients, created_at"
            " FROM campaign ORDER BY id DESC LIMIT ?",
            db,
        ),
        (limit,),
    ).fetchall()
    if not rows:
        return []
    counts: dict[int, dict] = {}
    low = rows[-1][0]
    for cid, state, n in db.execute_sql(
        sql(
            "SELECT campaign_id, state, COUNT(*) FROM outbox WHERE campaign_id >= ?"
            " GROUP BY campaign_id, state",
            db,
        ),
        (low,),
    ).fetchall():
        counts.setdefault(cid, {})[state] = n
    out = []
    for cid, name, segment, state, scheduled, queued_at, recipients, created in rows:
        c = counts.get(cid, {})
        waiting = c.get("pending", 0) + c.get("sending", 0)
        if state == "queued":
            state = "sending" if waiting else "done"
        out.append(
            {
                "id": cid,
                "name": name,
                "segment": segment,
                "state": state,
                "scheduled_at": iso(from_micros(scheduled)),
                "queued_at": iso(from_micros(queued_at)),
                "created_at": iso(from_micros(created)),
                "recipients": recipients,
                "queued": waiting,
                "sent": c.get("sent", 0),
                "failed": c.get("failed", 0),
                "suppressed": c.get("suppressed", 0),
                "uncertain": c.get("uncertain", 0),
            }
        )
    return out


def load(campaign_id: int, box=None) -> dict:
    box = box or box_mod.current()
    row = box.db.execute_sql(
        sql(
            "SELECT id, name, segment, params, channels, content, voucher_reward, voucher_days,"
            " state, scheduled_at, queued_at, recipients, created_at FROM campaign WHERE id = ?",
            box.db,
        ),
        (campaign_id,),
    ).fetchone()
    if row is None:
        raise CampaignError(N_("There is no campaign %(id)s."), id=campaign_id)
    return {
        "id": row[0],
        "name": row[1],
        "segment": row[2],
        "params": json.loads(row[3]),
        "channels": json.loads(row[4]),
        "content": json.loads(row[5]),
        "voucher_reward": row[6],
        "voucher_days": row[7],
        "state": row[8],
        "scheduled_at": iso(from_micros(row[9])),
        "queued_at": iso(from_micros(row[10])),
        "recipients": row[11],
        "created_at": iso(from_micros(row[12])),
    }


def queue_campaign(campaign: dict, now: datetime, box=None, actor: str = "owner") -> int:
    """Write the outbox rows for every member of the segment as of now; returns recipients."""
    box = box or box_mod.current()
    db = box.db
    seg = segments.resolve(campaign["segment"], campaign["params"], as_of=now, box=box)
    seg_sql, seg_args = seg.predicate(box)
    erased = _has_erased(db)
    now_us = to_micros(now)
    with db.atomic():
        for name in campaign["channels"]:
            reason = channels.get(name, box).suppression_sql("m", erased)
            db.execute_sql(
                sql(
                    "INSERT INTO outbox (event_key, kind, member_id, payload, state, due_at,"
                    " attempts, last_error, created_at, channel, campaign_id)"
                    " SELECT ? || CAST(m.id AS VARCHAR(20)), 'message', m.id, '{}',"
                    f" CASE WHEN ({reason}) IS NULL THEN 'pending' ELSE 'suppressed' END,"
                    f" ?, 0, COALESCE({reason}, ''), ?, ?, ?"
                    f" FROM member m WHERE {seg_sql}"
                    " ON CONFLICT (event_key, channel) DO NOTHING",
                    db,
                ),
                (f"campaign:{campaign['id']}:", now_us, now_us, name, campaign["id"], *seg_args),
            )
        recipients = db.execute_sql(
            sql("SELECT COUNT(DISTINCT member_id) FROM outbox WHERE campaign_id = ?", db),
            (campaign["id"],),
        ).fetchone()[0]
        db.execute_sql(
            sql(
                "UPDATE campaign SET state = 'queued', queued_at = ?, recipients = ? WHERE id = ?",
                db,
            ),
            (now_us, recipients, campaign["id"]),
        )
        audit(actor, "campaign.queue", now, id=campaign["id"], recipients=recipients)
    return recipients


def send_campaign(
    campaign_id: int, at: datetime | None = None, now=None, box=None, actor: str = "owner"
) -> dict:
    """Queue now, or schedule for `at`. Sending a queued campaign again adds no duplicates."""
    box = box or box_mod.current()
    now = now or utcnow()
    campaign = load(campaign_id, box)
    if campaign["state"] == "cancelled":
        raise CampaignError(N_("Campaign %(id)s was cancelled; create a new one."), id=campaign_id)
    if at is not None and at > now:
        with box.db.atomic():
            box.db.execute_sql(
                sql(
                    "UPDATE campaign SET state = 'scheduled', scheduled_at = ? WHERE id = ?",
                    box.db,
                ),
                (to_micros(at), campaign_id),
            )
            audit(actor, "campaign.schedule", now, id=campaign_id, at=iso(at))
        return {"id": campaign_id, "state": "scheduled", "scheduled_at": iso(at), "recipients": 0}
    recipients = queue_campaign(campaign, now, box, actor)
    return {"id": campaign_id, "state": "queued", "recipients": recipients}


def cancel_campaign(campaign_id: int, now=None, box=None, actor: str = "owner") -> dict:
    box = box or box_mod.current()
    now = now or utcnow()
    campaign = load(campaign_id, box)
    if campaign["state"] not in ("draft", "scheduled"):
        raise CampaignError(
            N_(
                "Campaign %(id)s is %(state)s: only a draft or a scheduled campaign can be"
                " cancelled."
            ),
            id=campaign_id,
            state=campaign["state"],
        )
    with box.db.atomic():
        box.db.execute_sql(
            sql("UPDATE campaign SET state = 'cancelled' WHERE id = ?", box.db), (campaign_id,)
        )
        audit(actor, "campaign.cancel", now, id=campaign_id)
    return {"id": campaign_id, "state": "cancelled"}


def queue_scheduled(now: datetime, box=None) -> list[int]:
    """Queue every scheduled campaign whose time has come (the periodic job; catches up)."""
    box = box or box_mod.current()
    ids = [
        r[0]
        for r in box.db.execute_sql(
            sql(
                "SELECT id FROM campaign WHERE state = 'scheduled' AND scheduled_at <= ?"
                " ORDER BY scheduled_at, id",
                box.db,
            ),
            (to_micros(now),),
        ).fetchall()
    ]
    for campaign_id in ids:
        queue_campaign(load(campaign_id, box), now, box)
    return ids


def campaign_status(campaign_id: int, now=None, box=None) -> dict:
    """Progress (messages by state) and results (recipients who came back after it)."""
    box = box or box_mod.current()
    campaign = load(campaign_id, box)
    db = box.db
    counts = dict(
        db.execute_sql(
            sql("SELECT state, COUNT(*) FROM outbox WHERE campaign_id = ? GROUP BY state", db),
            (campaign_id,),
        ).fetchall()
    )
    returned = {}
    for days in (7, 30):
        returned[f"returned_{days}d"] = db.execute_sql(
            sql(
                "SELECT COUNT(DISTINCT o.member_id) FROM outbox o WHERE o.campaign_id = ?"
                " AND o.state = 'sent' AND EXISTS (SELECT 1 FROM visit v"
                " WHERE v.member_id = o.member_id AND v.at > o.sent_at AND v.at <= o.sent_at + ?)",
                db,
            ),
            (campaign_id, days * DAY_US),
        ).fetchone()[0]
    failures = [
        {"channel": r[0], "reason": r[1], "count": r[2]}
        for r in db.execute_sql(
            sql(
                "SELECT channel, last_error, COUNT(*) FROM outbox WHERE campaign_id = ?"
                " AND state IN ('failed', 'suppressed', 'uncertain') GROUP BY channel, last_error"
                " ORDER BY 3 DESC",
                db,
            ),
            (campaign_id,),
        ).fetchall()
    ]
    # messages waiting on a channel nobody has set up yet would otherwise wait silently
    for name in campaign["channels"]:
        if name in channels.REGISTRY and not channels.get(name, box).configured():
            waiting = db.execute_sql(
                sql(
                    "SELECT COUNT(*) FROM outbox WHERE campaign_id = ? AND channel = ?"
                    " AND state = 'pending'",
                    db,
                ),
                (campaign_id, name),
            ).fetchone()[0]
            if waiting:
                failures.append(
                    {
                        "channel": name,
                        "reason": "channel not set up in the settings",
                        "count": waiting,
                    }
                )
    queued = counts.get("pending", 0) + counts.get("sending", 0)
    state = campaign["state"]
    if state == "queued":
        state = "sending" if queued else "done"
    return {
        "id": campaign_id,
        "state": state,
        "recipients": campaign["recipients"],
        "queued": queued,
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "suppressed": counts.get("suppressed", 0),
        "uncertain": counts.get("uncertain", 0),
        **returned,
        "reasons": failures,
        "scheduled_at": campaign["scheduled_at"],
    }


SAMPLE_CODE = "VXXX-XXXX-XXXX-XXXX"


def sample_voucher(campaign: dict) -> dict | None:
    """What a recipient's voucher looks like, for previews and tests (none is issued)."""
    if not campaign["voucher_reward"]:
        return None
    return {"code": SAMPLE_CODE, "reward": campaign["voucher_reward"]}


def preview_campaign(campaign_id: int, member_id: int, now=None, box=None) -> dict:
    """Each channel's message rendered for one member (a sample voucher; none is issued)."""
    from .channels.delivery import render_for

    box = box or box_mod.current()
    campaign = load(campaign_id, box)
    out = {}
    for name in campaign["channels"]:
        out[name] = render_for(
            box,
            name,
            member_id,
            campaign["content"],
            f"campaign:{campaign_id}:{member_id}",
            voucher=sample_voucher(campaign),
            preview=True,
            now=now or utcnow(),
        )
    return out


def send_test(
    campaign_id: int, channel: str, address: str, member_id: int | None = None, box=None
) -> str:
    """Send the campaign's message on one channel to the owner's own address, right now.

    Rendered for `member_id` (or the first member) with a sample voucher, none issued; no
    outbox row and no consent check: the owner is the recipient. Raises CampaignError if it
    cannot go.
    """
    import base64

    from .channels import Offline, Outgoing, Rejected, get
    from .channels.delivery import VOUCHER_QR_CID, render_for, voucher_qr_png

    box = box or box_mod.current()
    campaign = load(campaign_id, box)
    if channel not in campaign["channels"]:
        raise CampaignError(
            N_("Campaign %(id)s has no %(channel)s content."), id=campaign_id, channel=channel
        )
    ch = get(channel, box)
    if not ch.configured():
        raise CampaignError(
            N_("The %(channel)s channel is not set up in the settings yet."), channel=channel
        )
    if member_id is None:
        row = box.db.execute_sql("SELECT MIN(id) FROM member").fetchone()
        member_id = row[0]
    if member_id is None:
        raise CampaignError(N_("A test needs at least one member to fill in the variables."))
    msg = render_for(
        box,
        channel,
        member_id,
        campaign["content"],
        f"test:{campaign_id}:{utcnow().timestamp()}",
        voucher=sample_voucher(campaign),
        preview=True,
        now=utcnow(),
    )
    extra = {}
    if sample_voucher(campaign) and channel == "email":
        # the preview carries the QR as a data: address, which mail readers block: the
        # test travels like the real message, with the picture inside it
        png = voucher_qr_png(SAMPLE_CODE)
        inline = "data:image/png;base64," + base64.b64encode(png).decode()
        msg["html"] = msg.get("html", "").replace(inline, f"cid:{VOUCHER_QR_CID}")
        extra = {"inline_images": {VOUCHER_QR_CID: png}}
    out = Outgoing(
        event_key=f"test:{campaign_id}:{utcnow().timestamp()}",
        member_id=member_id,
        address=address,
        subject="[Test] " + msg.get("subject", ""),
        text=msg["text"],
        html=msg.get("html", ""),
        extra=extra,
    )
    try:
        return ch.send(out)
    except (Offline, Rejected) as exc:
        raise CampaignError(N_("The test did not go: %(reason)s"), reason=str(exc)) from None
    finally:
        ch.close()
