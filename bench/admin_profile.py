"""CPU per request of the admin pages, in one process (Flask's test client, no HTTP).

    .venv/bin/python bench/admin_profile.py [--requests N] [--repeat R] [--profile PAGE]

The same private copy of the cached 100k shop as bench/admin.py, the real app and the bare
page (bench.admin:bare_app's query) side by side. Each page is timed in turns, best of R
runs of N requests (process CPU time, so other processes' load counts less than in wall
time). --profile PAGE prints cProfile's top functions for that page instead. As in the box's
gunicorn workers (web/gunicorn_conf.py), the loaded app is frozen out of the garbage
collector's way after the warm-up; --no-freeze leaves it in.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import pstats
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.admin import _add_bench_owner, _paths  # noqa: E402
from bench.generate import OUT, ShopSpec, ensure_shop  # noqa: E402

_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _clients(shop: Path, password: str):
    from flask import Flask, request

    from appliance.db import database
    from appliance.settings import load_settings
    from web import create_app
    from web.db import connect

    settings = load_settings(environ={}, data_dir=shop, timezone="UTC")
    app = create_app({"STAMPBOX_SETTINGS": dataclasses.replace(settings)})
    client = app.test_client()
    token = _CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    data = {"username": "bench", "password": password, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302

    bare = Flask("bare")

    @bare.get("/bare")
    def bare_page():
        connect()
        row = database.execute_sql(
            "SELECT name FROM member WHERE id = ?", (request.args.get("id", 1, type=int),)
        ).fetchone()
        return f"<p>{row[0] if row else ''}</p>"

    return client, bare.test_client()


def _run(client, paths: list[str], n: int, rng: Random) -> float:
    """CPU ms per request over n requests."""
    start = time.process_time()
    for _ in range(n):
        response = client.get(rng.choice(paths))
        if response.status_code not in (200, 404):
            raise RuntimeError(f"{response.status_code} for {response.request.path}")
    return (time.process_time() - start) * 1000 / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=("bare", "shell", "search", "detail", "dashboard"))
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the loaded app in the garbage collector's way (gc.freeze)",
    )
    parser.add_argument("--dump", help="with --profile: also write the pstats file here")
    args = parser.parse_args(argv)
    data_dir, _ = ensure_shop(ShopSpec(members=args.members, visits=args.visits, seed=1))
    work = Path(tempfile.mkdtemp(prefix="admin-profile-", dir=OUT))
    try:
        shop = work / "shop"
        shutil.copytree(data_dir, shop, ignore=shutil.ignore_patterns("build.json"))
        password = secrets.token_urlsafe(16)
        _add_bench_owner(shop, password)
        client, bare = _clients(shop, password)
        paths = _paths(shop / "stampbox.db", 1)
        paths["shell"] = ["/admin/no-such-page"]
        pages = {p: (bare if p == "bare" else client) for p in
                 ("bare", "shell", "search", "detail", "dashboard")}  # fmt: skip
        rng = Random(1)
        for page, c in pages.items():  # warm-up
            _run(c, paths[page], 50, rng)
        if not args.no_freeze:
            gc.freeze()  # as the box's gunicorn workers do once the app is loaded
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            _run(pages[args.profile], paths[args.profile], args.requests, rng)
            profiler.disable()
            stats = pstats.Stats(profiler)
            if args.dump:
                stats.dump_stats(args.dump)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            return 0
        best = {p: float("inf") for p in pages}
        for _ in range(args.repeat):
            for page, c in pages.items():
                best[page] = min(best[page], _run(c, paths[page], args.requests, rng))
        print(f"CPU ms per request (best of {args.repeat} x {args.requests}):")
        for page, ms in best.items():
            print(f"  {page:<10} {ms:6.3f}  ({ms / best['bare']:.1f}x bare)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
