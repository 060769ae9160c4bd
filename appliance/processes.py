"""The three processes of the box, and `run`, which supervises all three for development.

The web and the bridge are started as their own programs (gunicorn, python -m
firmware_bridge) so the core never imports Flask or device libraries.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .settings import load_settings

# seconds: the longest the idle worker waits between polls of the queue; work a person waits
# for (a test message, a slip, an unsubscribe) starts within this (one cheap query per poll)
WORKER_MAX_DELAY = 0.5


GUNICORN_CONF = Path(__file__).resolve().parent.parent / "web" / "gunicorn_conf.py"


def web_command(host: str | None, port: int | None) -> list[str]:
    settings = load_settings()
    bind = f"{host or settings.web_host}:{port or settings.web_port}"
    # gthread: the counter screen holds a server-sent-events stream open per browser
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--worker-class",
        "gthread",
        "--workers",
        "2",
        "--threads",
        "8",
        "--access-logfile",
        "-",
        "--config",
        # a file, not python:web.gunicorn_conf: importing that would import the web package
        # (Flask, the app's modules) into the arbiter too, which serves no page (+18 MB)
        str(GUNICORN_CONF),
        "web:create_app()",
    ]


def bridge_command() -> list[str]:
    return [sys.executable, "-m", "firmware_bridge"]


def worker_command() -> list[str]:
    return [sys.executable, "-m", "appliance.cli", "worker"]


def run_web(host: str | None = None, port: int | None = None) -> int:
    from .provision import init_box

    init_box(load_settings())
    cmd = web_command(host, port)
    os.execv(cmd[0], cmd)


def run_bridge() -> int:
    cmd = bridge_command()
    os.execv(cmd[0], cmd)


def run_worker() -> int:
    import logging

    from huey.consumer import Consumer

    from . import box
    from .jobs import huey

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    box.start()
    # a test push, a slip request or an unsubscribe must not sit in polling back-off (default 10 s)
    Consumer(huey, workers=2, worker_type="thread", periodic=True, max_delay=WORKER_MAX_DELAY).run()
    return 0


def run_all(host: str | None = None, port: int | None = None) -> int:
    """Start web, worker and bridge; stop all when one dies or on Ctrl-C/SIGTERM."""
    from .provision import init_box

    init_box(load_settings())
    procs = [
        subprocess.Popen(cmd)
        for cmd in (web_command(host, port), worker_command(), bridge_command())
    ]
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = [p.args for p in procs if p.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed and not stopping else 0
