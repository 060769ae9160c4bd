"""Automations: messages an event or the passage of time sends without the owner.

- reward_unlocked: after a delay (default 2 h) following a reward the tap unlocked; one per
  reward event (the tap's outbox key names the member, round and tier);
- reward_reminder: an unused voucher `days_before` (7) days before it expires; one per voucher;
- win_back: a member inactive for `days` (30) days; one per inactivity spell (the spell is
  named by its last visit, so a new visit starts a new spell), for spells that began within
  the last `catch_up_days` (14);
- welcome: members who joined within the last `catch_up_days` (7) days; one per member.

Every message's event key is derived from the event, never from the run, so the periodic job
may run late, twice or after the box was off for a week: the unique outbox key keeps one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from . import box as box_mod
from . import channels, outbox, segments
from .automation_defaults import DEFAULTS, default_content
from .clock import to_micros, utcnow
from .db import sql
from .refusal import N_, Refusal


class AutomationError(Refusal):
    """An automation that cannot be set as asked: the message says why."""


def load(name: str, box=None) -> dict:
    """The automation's settings (defaults until the owner saves their own)."""
    if name not in DEFAULTS:
        raise AutomationError(
            N_("Unknown automation %(name)r; known: %(known)s."),
            name=name,
            known=", ".join(DEFAULTS),
        )
    box = box or box_mod.current()
    row = box.db.execute_sql(
        sql("SELECT enabled, channels, content, params FROM automation WHERE name = ?", box.db),
        (name,),
    ).fetchone()
    base = DEFAULTS[name]
    if row is None:
        return {
            "name": name,
            "enabled": False,
            "channels": [],
            "content": default_content(name, box),
            "params": dict(base["params"]),
        }
    return {
        "name": name,
        "enabled": bool(row[0]),
        "channels": json.loads(row[1]),
        "content": json.loads(row[2]) or default_content(name, box),
        "params": {**base["params"], **json.loads(row[3])},
    }


def configure(
    name: str,
    *,
    enabled: bool,
    channel_names: list[str],
    content: dict | None = None,
    params: dict | None = None,
    now: datetime | None = None,
    actor: str = "owner",
    box=None,
) -> dict:
    from .audit import audit
    from .campaigns import CampaignError, check_content

    box = box or box_mod.current()
    current = load(name, box)
    unknown = [c for c in channel_names if c not in channels.REGISTRY]
    if unknown:
        raise AutomationError(
            N_("Channels must be some of %(known)s."), known=", ".join(channels.REGISTRY)
        )
    content = content or current["content"]
    try:
        check_content(channel_names, content)
    except CampaignError as exc:
        raise AutomationError.wrapping(exc) from None
    merged = {**current["params"], **(params or {})}
    for key, value in merged.items():
        if not isinstance(value, int) or not 0 <= value <= 3650:
            raise AutomationError(N_("%(name)s must be a whole number from 0 to 3650."), name=key)
    db = box.db
    now = now or utcnow()
    now_us = to_micros(now)
    # the default kept as it is is stored as none, so it goes on following the shop (the
    # gift's kind, the wallet's setup) instead of being frozen by the first save
    stored = {} if content == default_content(name, box) else content
    values = (bool(enabled), json.dumps(channel_names), json.dumps(stored), json.dumps(merged))
    with db.atomic():
        done = db.execute_sql(
            sql(
                "UPDATE automation SET enabled = ?, channels = ?, content = ?, params = ?,"
                " updated_at = ? WHERE name = ?",
                db,
            ),
            (*values, now_us, name),
        ).rowcount
        if not done:
            db.execute_sql(
                sql(
                    "INSERT INTO automation (name, enabled, channels, content, params, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    db,
                ),
                (name, *values, now_us),
            )
        audit(
            actor,
            "automation.configure",
            now,
            name=name,
            enabled=bool(enabled),
            channels=channel_names,
            params=merged,
        )
    return load(name, box)


def content_for(name: str, box=None) -> dict:
    return load(name, box)["content"]


def _announce(automation: str, row: dict, delay: timedelta) -> None:
    """A trigger row becomes one message per enabled channel (same event key: never twice)."""
    box = box_mod.current()
    auto = load(automation, box)
    if not auto["enabled"]:
        return
    from .clock import from_micros

    created = from_micros(row["created_at"])
    for name in auto["channels"]:
        outbox.add_outbox(
            box.db,
            row["event_key"],
            "message",
            row["member_id"],
            {"automation": automation, "voucher": row["payload"]},
            created,
            created + delay,
            channel=name,
        )


def on_reward_unlocked(row: dict) -> None:
    """Outbox handler for the tap's trigger row: one delayed message per enabled channel."""
    hours = load("reward_unlocked")["params"]["delay_hours"]
    _announce("reward_unlocked", row, timedelta(hours=hours))


def on_birthday_gift(row: dict) -> None:
    """Outbox handler for appliance.birthdays' trigger row: the gift's announcement."""
    _announce("birthday", row, timedelta(0))


def install() -> None:
    """Let the outbox hand reward-unlocked and birthday trigger rows to this module."""
    outbox.HANDLERS.setdefault("reward_unlocked", on_reward_unlocked)
    outbox.HANDLERS.setdefault("birthday_gift", on_birthday_gift)


def _fan_out(box, name: str, select_sql: str, args: list, now: datetime) -> int:
    """INSERT ... SELECT one message row per (member, event) and enabled channel.

    `select_sql` yields (event_key, member_id, payload) with member alias m.
    """
    from .campaigns import _has_erased

    auto = load(name, box)
    if not auto["enabled"]:
        return 0
    db = box.db
    now_us = to_micros(now)
    added = 0
    for channel in auto["channels"]:
        reason = channels.get(channel, box).suppression_sql("m", _has_erased(db))
        added += db.execute_sql(
            sql(
                "INSERT INTO outbox (event_key, kind, member_id, payload, state, due_at,"
                " attempts, last_error, created_at, channel, campaign_id)"
                " SELECT ev.event_key, 'message', m.id, ev.payload,"
                f" CASE WHEN ({reason}) IS NULL THEN 'pending' ELSE 'suppressed' END,"
                f" ?, 0, COALESCE({reason}, ''), ?, ?, NULL"
                f" FROM ({select_sql}) ev JOIN member m ON m.id = ev.member_id WHERE 1 = 1"
                " ON CONFLICT (event_key, channel) DO NOTHING",
                db,
            ),
            (now_us, now_us, channel, *args),
        ).rowcount
    return added


def run_due(now: datetime | None = None, box=None) -> dict:
    """The periodic pass over win-back, welcome and reminders (idempotent, catches up)."""
    box = box or box_mod.current()
    now = now or utcnow()
    out = {}
    db = box.db
    with db.atomic():
        auto = load("win_back", box)
        seg = segments.resolve("inactive", {"days": auto["params"]["days"]}, now, box)
        seg_sql, seg_args = seg.predicate(box)
        began_after = now - timedelta(days=auto["params"]["days"] + auto["params"]["catch_up_days"])
        seg_sql = f"{seg_sql} AND m.last_visit_at >= ?"
        seg_args = [*seg_args, to_micros(began_after)]
        # the spell is named by its last visit: a member who comes back and lapses again
        # gets a new key, the same spell never a second one
        out["win_back"] = _fan_out(
            box,
            "win_back",
            "SELECT 'win_back:' || CAST(m.id AS VARCHAR(20)) || ':'"
            " || CAST(m.last_visit_at AS VARCHAR(20)) AS event_key, m.id AS member_id,"
            ' \'{"automation":"win_back"}\' AS payload'
            f" FROM member m WHERE {seg_sql}",
            seg_args,
            now,
        )
        auto = load("welcome", box)
        seg = segments.resolve("new-joiners", {"days": auto["params"]["catch_up_days"]}, now, box)
        seg_sql, seg_args = seg.predicate(box)
        out["welcome"] = _fan_out(
            box,
            "welcome",
            "SELECT 'welcome:' || CAST(m.id AS VARCHAR(20)) AS event_key, m.id AS member_id,"
            ' \'{"automation":"welcome"}\' AS payload'
            f" FROM member m WHERE {seg_sql}",
            seg_args,
            now,
        )
        auto = load("reward_reminder", box)
        horizon = now + timedelta(days=auto["params"]["days_before"])
        out["reward_reminder"] = _reminders(box, now, horizon)
    return out


def _reminders(box, now: datetime, horizon: datetime) -> int:
    """Unused vouchers expiring before the horizon: the voucher travels in the payload."""
    from .vouchers import voucher_dict

    auto = load("reward_reminder", box)
    if not auto["enabled"]:
        return 0
    db = box.db
    rows = db.execute_sql(
        sql(
            "SELECT id, member_id, code, kind, reward, valid_from, valid_until FROM voucher"
            " WHERE redeemed_at IS NULL AND valid_until > ? AND valid_until <= ?",
            db,
        ),
        (to_micros(now), to_micros(horizon)),
    ).fetchall()
    added = 0
    for vid, member_id, *rest in rows:
        payload = {"automation": "reward_reminder", "voucher": voucher_dict(*rest)}
        for channel in auto["channels"]:
            added += outbox.add_outbox(
                db,
                f"reward_reminder:{member_id}:{vid}",
                "message",
                member_id,
                payload,
                now,
                channel=channel,
            )
    return added


def preview(name: str, member_id: int, now: datetime | None = None, box=None) -> dict:
    """Each enabled (or, if none, every) channel's message for one member, as it would go."""
    from .channels.delivery import render_for
    from .vouchers import usable_vouchers

    box = box or box_mod.current()
    auto = load(name, box)
    now = now or utcnow()
    voucher = None
    if name in ("reward_unlocked", "reward_reminder"):
        waiting = usable_vouchers(box.db, member_id, to_micros(now))
        voucher = waiting[0] if waiting else {"code": "VXXX-XXXX-XXXX-XXXX", "reward": "Reward"}
    elif name == "birthday":
        from .birthdays import load_gift

        # the announcement carries the gift's voucher: a sample with the gift's name
        voucher = {"code": "VXXX-XXXX-XXXX-XXXX", "reward": load_gift().gift}
    return {
        channel: render_for(
            box,
            channel,
            member_id,
            auto["content"],
            f"preview:{name}:{member_id}",
            voucher=voucher,
            preview=True,
            now=now,
        )
        for channel in (auto["channels"] or list(auto["content"]))
    }


def message_counts(since: datetime, box=None) -> dict[str, dict[str, int]]:
    """Each automation's messages created since `since`, by state (its keys start "name:")."""
    box = box or box_mod.current()
    names = list(DEFAULTS)
    case = " ".join(f"WHEN o.event_key LIKE '{name}:%' THEN '{name}'" for name in names)
    rows = box.db.execute_sql(
        sql(
            f"SELECT CASE {case} END AS automation, o.state, COUNT(*) FROM outbox o"
            " WHERE o.campaign_id IS NULL AND o.kind = 'message' AND o.created_at > ?"
            " GROUP BY 1, 2",
            box.db,
        ),
        (to_micros(since),),
    ).fetchall()
    out: dict[str, dict[str, int]] = {name: {} for name in names}
    for name, state, n in rows:
        if name in out:
            out[name][state] = n
    return out
