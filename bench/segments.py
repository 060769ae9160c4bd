"""Segments, campaign queueing and SMTP delivery on the synthetic shop, each beside a floor.

    .venv/bin/python bench/segments.py [--members N --visits N] [--small-members N
        --small-visits N] [--repeat R] [--smtp N] [--json]

- every segment (default parameters, as of the shop's last day) through
  `appliance.segments.members` against one hand-written SQL query for the same set, in the
  same run on the same connection (alternating, median of R runs); both must return the same
  ids; the same at a shop 10x smaller, for the growth factor;
- a campaign to every member (100,000 recipients at the default size) queued through
  `campaigns.send_campaign`, on a private copy of the shop;
- email delivery of N messages to a local aiosmtpd through the worker's `deliver_all`,
  against a bare smtplib loop on one connection to the same server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import smtplib
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from appliance import box as box_mod  # noqa: E402
from appliance import campaigns, segments  # noqa: E402
from appliance.clock import to_micros  # noqa: E402
from appliance.settings import load_settings  # noqa: E402
from bench.generate import END, OUT, ShopSpec, ensure_shop  # noqa: E402

DAY_US = 86_400_000_000


def floors(as_of, tiers_needed: int) -> dict:
    """One hand-written query per segment (default parameters), as a person would write it.

    Each returns what `segments.members` returns (id and external_id of each member), in
    no particular order; ours also sorts by id.
    """
    a = to_micros(as_of)
    today = as_of.date()
    month_days = segments.birthday_days(today, 7)
    bday = " OR ".join(
        f"(birthday_month = {m} AND birthday_day IN ({', '.join(map(str, ds))}))"
        for m, ds in month_days.items()
    )
    close = ", ".join(str(s) for s in range(max(0, tiers_needed - 2), tiers_needed))
    return {
        "new-joiners": (
            "SELECT id, external_id FROM member WHERE joined_at > ? AND joined_at <= ?",
            [a - 30 * DAY_US, a],
        ),
        "close-to-reward": (f"SELECT id, external_id FROM member WHERE stamps IN ({close})", []),
        "inactive": (
            "SELECT id, external_id FROM member WHERE last_visit_at < ?",
            [a - 30 * DAY_US],
        ),
        "birthday": (f"SELECT id, external_id FROM member WHERE {bday}", []),
        "new-customers": (
            "SELECT id, external_id FROM member WHERE visit_count = 1 AND last_visit_at > ?"
            " AND last_visit_at <= ?",
            [a - 30 * DAY_US, a],
        ),
        "top-customers": (
            "SELECT m.id, m.external_id FROM (SELECT member_id, n,"
            " RANK() OVER (ORDER BY spend DESC) rk, COUNT(*) OVER () total FROM"
            " (SELECT member_id, SUM(COALESCE(amount_cents, 0)) spend, COUNT(*) n FROM visit"
            # the best plan for it: the covering index (member_id, at, amount_cents), no sort
            " WHERE +at > ? AND +at <= ? GROUP BY member_id)) r JOIN member m ON m.id = r.member_id"
            " WHERE rk <= (total * 10 + 99) / 100 AND n >= 2",
            [a - 365 * DAY_US, a],
        ),
        "defecting": (
            "SELECT id, external_id FROM member WHERE last_visit_at < ?",
            [a - 90 * DAY_US],
        ),
    }


def _time(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def private_copy(data_dir: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="segbench-", dir=OUT))
    for name in ("stampbox.db", "secrets"):
        src = data_dir / name
        if src.is_dir():
            shutil.copytree(src, target / name)
        else:
            shutil.copy2(src, target / name)
    return target


def bench_segments(spec: ShopSpec, repeat: int, cache_mb: int = 0) -> dict:
    data_dir, _ = ensure_shop(spec)
    copy = private_copy(data_dir)
    try:
        box = box_mod.start(load_settings(environ={}, data_dir=copy, timezone="UTC"))
        if cache_mb:
            # the box's 16 MB page cache holds all of a 10,000-member shop's member table
            # and none of a 100,000-member one's: a larger cache shows the growth of the
            # queries themselves rather than that step
            box.db.execute_sql(f"PRAGMA cache_size = -{cache_mb * 1000}")
        from appliance.program import load_program

        needed = load_program(box.db).stamps_needed
        as_of = END
        out = {}
        for kind, (floor_sql, floor_args) in floors(as_of, needed).items():
            seg = segments.resolve(kind, None, as_of, box)

            def ours(seg=seg):
                return segments.members(seg, box)

            def floor(q=floor_sql, args=floor_args):
                return box.db.execute_sql(q, args).fetchall()

            ours()
            floor()  # warm the page cache for both
            t_ours, t_floor = [], []
            for i in range(repeat):
                order = (ours, floor) if i % 2 == 0 else (floor, ours)
                for fn in order:
                    ms, result = _time(fn)
                    (t_ours if fn is ours else t_floor).append(ms)
                    if fn is ours:
                        got = {r[0] for r in result}
                    else:
                        want = {r[0] for r in result}
            out[kind] = {
                "count": len(got),
                "same_members": got == want,
                "ms": round(statistics.median(t_ours), 2),
                "floor_ms": round(statistics.median(t_floor), 2),
                "ratio": round(
                    statistics.median(t_ours) / max(statistics.median(t_floor), 1e-3), 2
                ),
            }
        return out
    finally:
        box_mod.stop()
        shutil.rmtree(copy, ignore_errors=True)


def _queue_floor(box, now) -> int:
    """The same fan-out as one hand-written INSERT ... SELECT (same rows, same suppression
    CASE, same indexes to update), in one transaction."""
    from appliance.channels import get

    reason = get("email", box).suppression_sql("m", erased=True)
    n = to_micros(now)
    with box.db.atomic():
        return box.db.execute_sql(
            "INSERT INTO outbox (event_key, kind, member_id, payload, state, due_at, attempts,"
            " last_error, created_at, channel, campaign_id)"
            f" SELECT 'floor:' || m.id, 'message', m.id, '{{}}',"
            f" CASE WHEN {reason} IS NULL THEN 'pending' ELSE 'suppressed' END, ?, 0,"
            f" COALESCE({reason}, ''), ?, 'email', -1 FROM member m"
            " WHERE m.joined_at > ? AND m.joined_at <= ?",
            (n, n, n - 3650 * DAY_US, n),
        ).rowcount


def bench_campaign(spec: ShopSpec) -> dict:
    data_dir, _ = ensure_shop(spec)
    copy = private_copy(data_dir)
    try:
        box = box_mod.start(load_settings(environ={}, data_dir=copy, timezone="UTC"))
        content = {"email": {"": {"subject": "Hi {{first_name}}", "text": "Hello"}}}
        c = campaigns.create_campaign(
            "all", "new-joiners", {"days": 3650}, ["email"], content, now=END, box=box
        )
        ms, result = _time(
            lambda: campaigns.send_campaign(c["id"], now=END + timedelta(hours=1), box=box)
        )
        status = campaigns.campaign_status(c["id"], box=box)
        floor_ms = _time(lambda: _queue_floor(box, END + timedelta(hours=1)))[0]
        return {
            "recipients": result["recipients"],
            "queued": status["queued"],
            "suppressed": status["suppressed"],
            "seconds": round(ms / 1000, 2),
            "floor_seconds": round(floor_ms / 1000, 2),
        }
    finally:
        box_mod.stop()
        shutil.rmtree(copy, ignore_errors=True)


def bench_smtp(count: int, rounds: int = 6) -> dict:
    """Rounds of count/rounds messages each, ours and the bare loop alternating (the order
    flips every round), so the load other processes put on the machine lands on both."""
    from aiosmtpd.controller import Controller

    from appliance.channels.delivery import deliver_due
    from appliance.members import add_member
    from appliance.models import Member
    from appliance.provision import init_box

    class Sink:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.received += 1
            return "250 OK"

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    tmp = Path(tempfile.mkdtemp(prefix="smtpbench-", dir=OUT))
    chunk = max(1, count // rounds)
    try:
        settings = load_settings(
            environ={},
            data_dir=tmp,
            timezone="UTC",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            mail_from="shop@x.example",
        )
        init_box(settings)
        box = box_mod.current()
        with box.db.atomic():
            for n in range(chunk * rounds):
                add_member(f"M{n}", f"m{n}@x.example")
        Member.update(email_consent_at=END).execute()
        content = {"email": {"": {"subject": "Hi {{first_name}}", "text": "Hello " * 40}}}
        c = campaigns.create_campaign("b", "new-joiners", {}, ["email"], content, box=box)
        campaigns.send_campaign(c["id"], box=box)

        # the floor's message: a multipart text + HTML of our size, built once; per recipient
        # only the To header is filled in (no MIME building, no database, no rendering)
        sample = EmailMessage()
        sample["From"], sample["To"], sample["Subject"] = "s@x.example", "TO", "Hi"
        sample.set_content("Hello " * 40)
        sample.add_alternative("<p>" + "Hello " * 40 + "</p>" + "x" * 2500, subtype="html")
        template = sample.as_bytes(policy=SMTP_POLICY)

        def bare() -> float:
            start = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", port) as conn:
                for n in range(chunk):
                    to = f"b{n}@x.example"
                    conn.sendmail("s@x.example", [to], template.replace(b"TO", to.encode(), 1))
            return chunk / (time.perf_counter() - start)

        def built() -> float:
            # the loop as a person writes it: the standard library builds each message
            start = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", port) as conn:
                for n in range(chunk):
                    msg = EmailMessage()
                    msg["From"], msg["To"], msg["Subject"] = "s@x.example", f"c{n}@x.example", "Hi"
                    msg.set_content("Hello " * 40)
                    msg.add_alternative("<p>" + "Hello " * 40 + "</p>" + "x" * 2500, subtype="html")
                    conn.send_message(msg)
            return chunk / (time.perf_counter() - start)

        sent = 0

        def ours() -> float:
            # the worker's own batch: claim, render, suppression checks, send, record each
            nonlocal sent
            start = time.perf_counter()
            counts = deliver_due(box, limit=chunk)
            sent += counts["sent"]
            return counts["sent"] / (time.perf_counter() - start)

        rates: dict[str, list[float]] = {"bare": [], "built": [], "ours": []}
        sides = (("bare", bare), ("ours", ours), ("built", built))
        for r in range(rounds):
            for name, fn in sides[r % 3 :] + sides[: r % 3]:  # each side first in turn
                rates[name].append(fn())
        med = {name: statistics.median(values) for name, values in rates.items()}
        return {
            "messages": chunk * rounds,
            "rounds": rounds,
            "sent": sent,
            "received": Sink.received,
            "bare_per_s": round(med["bare"], 1),
            "built_per_s": round(med["built"], 1),
            "ours_per_s": round(med["ours"], 1),
            "ratio": round(med["ours"] / med["bare"], 2),
            "ratio_to_built": round(med["ours"] / med["built"], 2),
            "ratio_per_round": [
                round(o / b, 2) for o, b in zip(rates["ours"], rates["bare"], strict=True)
            ],
        }
    finally:
        box_mod.stop()
        controller.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=ShopSpec.members)
    parser.add_argument("--visits", type=int, default=ShopSpec.visits)
    parser.add_argument("--small-members", type=int, default=10_000)
    parser.add_argument("--small-visits", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--smtp", type=int, default=1200, help="messages (0: skip)")
    parser.add_argument("--smtp-rounds", type=int, default=6)
    parser.add_argument("--cache-mb", type=int, default=0, help="SQLite page cache (0: box's)")
    parser.add_argument("--no-campaign", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    big = ShopSpec(args.members, args.visits)
    small = ShopSpec(args.small_members, args.small_visits)
    report = {
        "members": big.members,
        "visits": big.visits,
        "cache_mb": args.cache_mb or 16,
        "segments": bench_segments(big, args.repeat, args.cache_mb),
        "small": {
            "members": small.members,
            "segments": bench_segments(small, args.repeat, args.cache_mb),
        },
    }
    if not args.no_campaign:
        report["campaign"] = bench_campaign(big)
    if args.smtp:
        report["smtp"] = bench_smtp(args.smtp, args.smtp_rounds)
    for kind, row in report["segments"].items():
        small_row = report["small"]["segments"][kind]
        row["growth_10x"] = round(row["ms"] / max(small_row["ms"], 1e-3), 1)
        # the floor's own growth in the same run: what the data (and the load) made of it
        row["floor_growth_10x"] = round(row["floor_ms"] / max(small_row["floor_ms"], 1e-3), 1)
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{'segment':16} {'count':>7} {'ms':>8} {'floor':>8} {'ratio':>6} {'x10':>5}"
            f" {'fl x10':>6} same"
        )
        for kind, row in report["segments"].items():
            print(
                f"{kind:16} {row['count']:7d} {row['ms']:8.2f} {row['floor_ms']:8.2f}"
                f" {row['ratio']:6.2f} {row['growth_10x']:5.1f} {row['floor_growth_10x']:6.1f}"
                f" {row['same_members']}"
            )
        if "campaign" in report:
            print("campaign:", json.dumps(report["campaign"]))
        if args.smtp:
            print("smtp:", json.dumps(report["smtp"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
