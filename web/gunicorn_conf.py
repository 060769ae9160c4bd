"""Gunicorn settings for the box's web process (`appliance.processes.web_command`).

Gunicorn reads this file through `--config` and its path: the file itself imports nothing
of the app, so reading it costs the arbiter nothing.
"""

from __future__ import annotations

import gc


def on_starting(server) -> None:
    """The arbiter imports the app's code once, before it forks the workers.

    Both workers then share those modules' memory (copy-on-write) instead of each loading
    its own copy: about 23 MB less for the box (bench/memory.py). Nothing is opened here,
    no database, no thread, no app: each worker builds its own app (web:create_app()) after
    the fork. The imported objects are frozen so that the workers' garbage collector does
    not write to them and unshare their pages. Code is loaded when the service starts: a
    new version needs `systemctl restart`, not a reload (HUP keeps the loaded code).
    """
    import web  # noqa: F401

    gc.freeze()


def post_worker_init(worker) -> None:
    """The worker has built its app: keep it out of the collector too.

    The app's objects (routes, compiled templates, Babel's locale data) live as long as the
    worker, and every full collection walked them: a member page makes enough objects to
    set one off every few dozen requests. Frozen objects are never collected, and none of
    them are garbage. Measured on the member page, 100k shop: 7–9 % less CPU per request
    (bench/README.md, fifth pass).
    """
    gc.freeze()
