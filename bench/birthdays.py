"""Birthdays on the synthetic shop: the daily job over a year, then the owner's birthday pages.

    .venv/bin/python bench/birthdays.py [--members N --visits N] [--repeat R] [--json]

On a private copy of the cached shop (bench/generate.py): `run_birthdays` once per day for
the year before the shop's last day (every member with a birthday gets their gifts), a third
of the gifts redeemed, then the median of R runs of what /admin/birthdays computes
(`upcoming_birthdays`, `monthly_gifts`) and the member page's flag (`member_birthday`).
The floor is one indexed query on the same connection (a member by id).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.generate import END, ShopSpec, ensure_shop  # noqa: E402


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from appliance import box as box_mod
    from appliance.birthday_report import member_birthday, monthly_gifts, upcoming_birthdays
    from appliance.birthdays import run_birthdays
    from appliance.settings import load_settings

    source, _stats = ensure_shop(ShopSpec(members=args.members, visits=args.visits))
    work = Path(tempfile.mkdtemp(prefix="bench-birthdays-"))
    try:
        shutil.copy2(source / "stampbox.db", work / "stampbox.db")
        shutil.copytree(source / "secrets", work / "secrets")
        box = box_mod.start(load_settings(environ={}, data_dir=work, timezone="Europe/Berlin"))
        db = box.db
        started = time.perf_counter()
        issued, day = 0, END - timedelta(days=365)
        while day <= END:
            issued += len(run_birthdays(day, box=box)["issued"])
            day += timedelta(days=1)
        job_s = time.perf_counter() - started
        db.execute_sql(
            "UPDATE voucher SET redeemed_at = valid_from + 86400000000"
            " WHERE kind = 'birthday' AND id % 3 = 0"
        )
        now = datetime(END.year, END.month, END.day, 9, tzinfo=UTC)
        member = {"id": 1, "birthday_month": 3, "birthday_day": 1}
        result = {
            "members": args.members,
            "gifts_issued": issued,
            "job_runs": 366,
            "job_ms_per_run": round(job_s / 366 * 1000, 1),
            "floor_ms": _median_ms(
                lambda: db.execute_sql("SELECT name FROM member WHERE id = 1").fetchone(),
                args.repeat,
            ),
            "upcoming_ms": _median_ms(lambda: upcoming_birthdays(now, box=box), args.repeat),
            "upcoming_members": upcoming_birthdays(now, box=box)["total"],
            "monthly_ms": _median_ms(lambda: monthly_gifts(now, box=box), args.repeat),
            "member_flag_ms": _median_ms(lambda: member_birthday(member, now, box), args.repeat),
        }
        box_mod.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
