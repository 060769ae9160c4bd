"""A deterministic synthetic shop for benchmarks: members, cards, visits and vouchers.

The schema, the default program and the owner come from the real `init_box`; the rows are
then bulk-loaded with raw sqlite3 executemany in a few large transactions. Every row follows
from (members, visits, seed) alone: card and voucher codes are validly signed with a key
derived from the seed, and member counters agree with the visits (see `check_shop`).

    .venv/bin/python bench/generate.py [--members N] [--visits N] [--seed S] [--rebuild]

Built shops are cached under bench/out/ (git-ignored), keyed by the parameters and a hash of
this file and the migrations, so changing either builds a fresh one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # run as a script: import this checkout's appliance (a worktree's), not the installed one
    sys.path.insert(0, str(ROOT))

from appliance import box as box_mod  # noqa: E402
from appliance import codes  # noqa: E402
from appliance.clock import to_micros  # noqa: E402
from appliance.program import advance, load_program  # noqa: E402
from appliance.provision import init_box  # noqa: E402
from appliance.settings import load_settings  # noqa: E402

OUT = ROOT / "bench" / "out"
# a fixed end, not the wall clock: the same seed gives the same shop on any day
END = datetime(2026, 11, 1, tzinfo=UTC)
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
CHUNK = 200_000  # rows per executemany: large batches, bounded memory per call

FIRST = (
    "Anna Ben Clara David Emma Felix Greta Hugo Ida Jonas Karla Leon Mia Noah Olga Paul"
    " Rosa Sami Tara Umut Vera Will Xenia Yusuf Zoe Ali Bea Chen Dara Eli Fatma Gil"
).split()
LAST = (
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter"
    " Klein Wolf Yılmaz Nowak Rossi Silva Kim Nguyen Garcia Smith Jansen Berg Lund"
).split()


@dataclass(frozen=True)
class ShopSpec:
    """What to generate; visits are spread over `days` days ending at END."""

    members: int = 100_000
    visits: int = 2_000_000
    seed: int = 1
    days: int = 730

    def cache_key(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        # the generator's and the schema's source are part of the key: edits rebuild
        for path in [Path(__file__), *sorted((ROOT / "appliance" / "migrations").glob("*.py"))]:
            digest.update(path.read_bytes())
        return f"shop-m{self.members}-v{self.visits}-s{self.seed}-{digest.hexdigest()[:10]}"


def ensure_shop(spec: ShopSpec, out: Path = OUT, rebuild: bool = False) -> tuple[Path, dict]:
    """The cached data folder for spec (built if missing) and its build statistics."""
    target = out / spec.cache_key()
    if rebuild and target.exists():
        shutil.rmtree(target)
    if not (target / "build.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        # build beside the target and rename: an interrupted build never looks cached
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
        try:
            stats = build_shop(spec, tmp)
            (tmp / "build.json").write_text(json.dumps(stats, indent=2) + "\n")
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target, json.loads((target / "build.json").read_text())


def build_shop(spec: ShopSpec, data_dir: Path) -> dict:
    """Create a shop database in data_dir through init_box, then bulk-load it; returns stats."""
    started = time.perf_counter()
    rng = Random(spec.seed)
    data_dir = Path(data_dir)
    start_us = to_micros(END) - spec.days * DAY_US
    # a seeded code key, written before init_box reads it: signed codes become reproducible
    secrets_dir = data_dir / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rng.randbytes(32)
    fd = os.open(secrets_dir / "code_key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    settings = load_settings(environ={}, data_dir=data_dir, timezone="UTC")
    init_box(settings, now=datetime.fromtimestamp(start_us / 1e6, UTC))
    try:
        program = load_program(box_mod.current().db)
    finally:
        box_mod.stop()

    conn = sqlite3.connect(settings.db_path, isolation_level=None)
    # loading settings only: nothing reads this file before the rename, so no journal or
    # fsync is needed; the WAL mode the appliance expects is set back at the end
    for pragma in (
        "journal_mode=DELETE",
        "journal_mode=OFF",
        "synchronous=OFF",
        "locking_mode=EXCLUSIVE",
        "cache_size=-262144",
        "temp_store=MEMORY",
    ):
        conn.execute(f"PRAGMA {pragma}")
    tables = ("member", "card", "visit", "voucher", "outbox")
    indexes = _drop_indexes(conn, tables)
    gen = _Generator(spec, rng, key, program, start_us)
    conn.execute("BEGIN")
    gen.load(conn)
    conn.execute("COMMIT")
    loaded = time.perf_counter()
    conn.execute("BEGIN")
    for sql in indexes:
        # the migrations' own index definitions, built once over sorted data
        conn.execute(sql)
    # no ANALYZE: a real box never runs it, and its statistics could change query plans
    conn.execute("COMMIT")
    conn.execute("PRAGMA locking_mode=NORMAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return {
        **asdict(spec),
        "seconds": round(time.perf_counter() - started, 1),
        "index_seconds": round(time.perf_counter() - loaded, 1),
        "db_bytes": settings.db_path.stat().st_size,
        **gen.counts,
    }


def _drop_indexes(conn, tables) -> list[str]:
    marks = ", ".join("?" * len(tables))
    rows = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({marks})",
        tables,
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def visit_counts(rng: Random, members: int, visits: int, cap: int) -> list[int]:
    """Visits per member summing exactly to `visits`: many one-offs, a long tail of regulars."""
    if members <= 0:
        return []
    one_off = [rng.random() < 0.45 for _ in range(members)]
    counts = [1 if single else 2 for single in one_off]
    if sum(counts) > visits:
        one_off = [True] * members
        counts = [1 if i < visits else 0 for i in range(members)]
    # lognormal weights: a few members come hundreds of times, most a handful
    weights = [0.0 if single else rng.lognormvariate(0.0, 1.3) for single in one_off]
    if not any(weights):
        weights = [1.0 if c else 0.0 for c in counts]
    extra = visits - sum(counts)
    while extra > 0:
        open_ = [i for i, c in enumerate(counts) if weights[i] and c < cap]
        if not open_:
            raise ValueError(f"{visits} visits do not fit {members} members at {cap} each")
        total = sum(weights[i] for i in open_)
        shares = [(i, extra * weights[i] / total) for i in open_]
        given = 0
        for i, share in shares:
            add = min(int(share), cap - counts[i])
            counts[i] += add
            given += add
        left = extra - given
        if left and given == 0:
            # the remainder is smaller than every share: hand out one each, largest first
            for i, _ in sorted(shares, key=itemgetter(1), reverse=True)[:left]:
                counts[i] += 1
                given += 1
        extra -= given
    return counts


class _Generator:
    """Rows for the shop, produced member by member so counters come from the visits."""

    def __init__(self, spec: ShopSpec, rng: Random, key: bytes, program, start_us: int):
        self.spec, self.rng, self.key, self.program = spec, rng, key, program
        self.start_us = start_us
        self.end_us = start_us + spec.days * DAY_US
        self.used_codes: set[str] = set()
        self.used_uids: set[str] = set()
        self.counts = {"vouchers": 0, "redeemed": 0}

    def code(self, kind: str) -> str:
        """A validly signed, unique code; serials come from the seeded generator."""
        # codes.make_code draws from `secrets`, which cannot be seeded; the MAC and check
        # are the module's own, so these codes pass parse_code with the shop's key
        while True:
            body = kind + "".join(self.rng.choice(codes.ALPHABET) for _ in range(codes.SERIAL_LEN))
            body += codes._mac(self.key, body)
            check = codes._check_value(body)
            code = body + codes.ALPHABET[check] if check < 32 else None
            if code and code not in self.used_codes:
                self.used_codes.add(code)
                return code

    def uid(self) -> str:
        """A 7-byte NXP UID (04…) mostly, else a fixed 4-byte one; never the random 08… kind."""
        rng = self.rng
        while True:
            if rng.random() < 0.8:
                uid = "04" + rng.randbytes(6).hex().upper()
            else:
                first = rng.choice(("1A", "3C", "5E", "9B", "C4"))
                uid = first + rng.randbytes(3).hex().upper()
            if uid not in self.used_uids:
                self.used_uids.add(uid)
                return uid

    def visit_times(self, count: int) -> list[int]:
        """Sorted visit moments in shop hours (07–19), the first on the joining day."""
        rng, days = self.rng, self.spec.days
        # regulars need room: they joined early enough to fit their visits at two a day
        first_day = int(rng.random() * max(1, days - math.ceil(count / 2)))
        span = days - first_day
        day_list = [first_day] + [first_day + int(rng.random() * span) for _ in range(count - 1)]
        hour0 = self.start_us + 7 * HOUR_US
        return sorted(hour0 + d * DAY_US + int(rng.random() * 12 * HOUR_US) for d in day_list)

    def load(self, conn) -> None:
        spec, rng = self.spec, self.rng
        counts = visit_counts(rng, spec.members, spec.visits, cap=2 * spec.days)
        # member ids follow joining order, as they would in a real shop
        people = sorted(((self.visit_times(c), c) for c in counts), key=lambda p: p[0][0])
        members, cards, vouchers, outbox, visits = [], [], [], [], []
        for member_id, (times, count) in enumerate(people, start=1):
            members.append(self.member(member_id, times, count, visits, vouchers, outbox))
            cards.append((member_id, member_id, self.code("C"), self.uid(), times[0]))
        conn.executemany(
            "INSERT INTO member (id, name, email, phone, birthday_month, birthday_day,"
            " birthday_year, locale, email_consent_at, sms_consent_at, consent_source, joined_at,"
            " stamps, rounds, last_stamp_at, visit_count, first_visit_at, last_visit_at,"
            " spend_cents) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            members,
        )
        conn.executemany(
            "INSERT INTO card (id, member_id, code, nfc_uid, label, created_at)"
            " VALUES (?, ?, ?, ?, '', ?)",
            cards,
        )
        # visit ids rise with time, as they would had the shop recorded them one by one
        visits.sort()
        for i in range(0, len(visits), CHUNK):
            conn.executemany(
                "INSERT INTO visit (at, member_id, card_id, stamps, amount_cents, source)"
                " VALUES (?, ?, ?, ?, ?, 'counter')",
                visits[i : i + CHUNK],
            )
        vouchers.sort(key=itemgetter(4))
        conn.executemany(
            "INSERT INTO voucher (code, member_id, kind, reward, issued_at, valid_from,"
            " valid_until, redeemed_at, redeemed_by, source_key)"
            " VALUES (?, ?, 'tier', ?, ?, ?, ?, ?, ?, ?)",
            vouchers,
        )
        outbox.sort(key=itemgetter(4))
        conn.executemany(
            "INSERT INTO outbox (event_key, kind, member_id, payload, state, due_at, attempts,"
            " last_error, created_at) VALUES (?, 'reward_unlocked', ?, ?, 'done', ?, 1, '', ?)",
            outbox,
        )
        self.counts.update(members=len(members), visits=len(visits))

    def member(self, member_id, times, count, visits, vouchers, outbox) -> tuple:
        """The member row; appends their visits, vouchers and outbox rows on the way."""
        rng, tiers = self.rng, self.program.tiers
        stamps = rounds = spend = 0
        valid_us = self.program.voucher_days * DAY_US
        for n, at in enumerate(times[:count]):
            add = 1 if rng.random() < 0.95 else rng.choice((2, 2, 3))
            amount = int(rng.lognormvariate(6.5, 0.6)) // 10 * 10 if rng.random() < 0.7 else None
            spend += amount or 0
            visits.append((at, member_id, member_id, add, amount))
            stamps, rounds, unlocked = advance(stamps, rounds, add, tiers)
            for rnd, tier in unlocked:
                source_key = f"tier:{member_id}:{rnd}:{tier.stamps}"
                # most rewards are claimed at the member's next visit, if it comes in time
                redeemed = None
                if n + 1 < count and times[n + 1] < at + valid_us and rng.random() < 0.85:
                    redeemed = times[n + 1]
                    self.counts["redeemed"] += 1
                code = self.code("V")
                vouchers.append(
                    (
                        code,
                        member_id,
                        tier.reward,
                        at,
                        at,
                        at + valid_us,
                        redeemed,
                        "owner" if redeemed else None,
                        source_key,
                    )
                )
                payload = json.dumps(
                    {"code": codes.format_code(code), "reward": tier.reward}, separators=(",", ":")
                )
                outbox.append((f"reward_unlocked:{source_key}", member_id, payload, at, at))
                self.counts["vouchers"] += 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = phone = None
        if rng.random() < 0.45:
            email = f"{first}.{member_id}@example.com".lower()
        if rng.random() < 0.3:
            phone = f"+49151{rng.randrange(10**7, 10**8)}"
        month = day = year = None
        if rng.random() < 0.35:
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            year = rng.randint(1950, 2008) if rng.random() < 0.5 else None
        email_consent = times[0] if email and rng.random() < 0.7 else None
        sms_consent = times[0] if phone and rng.random() < 0.5 else None
        name = f"{first} {last}" if rng.random() < 0.8 else ""
        visited = count > 0
        return (
            member_id,
            name,
            email,
            phone,
            month,
            day,
            year,
            email_consent,
            sms_consent,
            "counter" if email_consent or sms_consent else "",
            times[0],
            stamps,
            rounds,
            times[count - 1] if visited else None,
            count,
            times[0] if visited else None,
            times[count - 1] if visited else None,
            spend,
        )


def check_shop(db_path: Path) -> list[str]:
    """Inconsistencies between member counters, visits, vouchers and the program (none: [])."""
    conn = sqlite3.connect(db_path)
    try:
        needed = conn.execute(
            "SELECT MAX(t.stamps) FROM reward_tier t JOIN program p ON p.id = t.program_id"
            " WHERE p.active"
        ).fetchone()[0]
        checks = {
            "visit counters": "SELECT COUNT(*) FROM member m LEFT JOIN (SELECT member_id,"
            " COUNT(*) n, MIN(at) f, MAX(at) l, COALESCE(SUM(amount_cents), 0) s,"
            " SUM(stamps) st FROM visit GROUP BY member_id) v ON v.member_id = m.id"
            " WHERE m.visit_count != COALESCE(v.n, 0) OR m.first_visit_at IS NOT v.f"
            " OR m.last_visit_at IS NOT v.l OR m.spend_cents != COALESCE(v.s, 0)"
            f" OR m.rounds * {needed} + m.stamps != COALESCE(v.st, 0)"
            " OR m.last_stamp_at IS NOT v.l",
            "vouchers per round": "SELECT COUNT(*) FROM member m WHERE m.rounds !="
            " (SELECT COUNT(*) FROM voucher v WHERE v.member_id = m.id"
            f" AND v.source_key LIKE '%:{needed}')",
            "cards": "SELECT COUNT(*) FROM member m WHERE (SELECT COUNT(*) FROM card c"
            " WHERE c.member_id = m.id AND c.nfc_uid IS NOT NULL) != 1",
        }
        return [name for name, query in checks.items() if conn.execute(query).fetchone()[0]]
    finally:
        conn.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=ShopSpec.members)
    parser.add_argument("--visits", type=int, default=ShopSpec.visits)
    parser.add_argument("--seed", type=int, default=ShopSpec.seed)
    parser.add_argument("--days", type=int, default=ShopSpec.days)
    parser.add_argument("--rebuild", action="store_true", help="ignore a cached shop")
    parser.add_argument("--check", action="store_true", help="verify the counters (slow)")
    args = parser.parse_args(argv)
    spec = ShopSpec(args.members, args.visits, args.seed, args.days)
    data_dir, stats = ensure_shop(spec, rebuild=args.rebuild)
    stats["data_dir"] = str(data_dir)
    if args.check:
        stats["problems"] = check_shop(data_dir / "stampbox.db")
    print(json.dumps(stats, indent=2))
    return 1 if stats.get("problems") else 0


if __name__ == "__main__":
    sys.exit(main())
