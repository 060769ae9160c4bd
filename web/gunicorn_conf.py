"""Gunicorn settings for the box's web process (`appliance.processes.web_command`).

Gunicorn reads this file through `--config` and its path: the file itself imports nothing
of the app, so reading it costs the arbiter nothing.
"""

from __future__ import annotations

import gc
import os


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


def pre_fork(server, worker) -> None:
    """Each web worker gets a processor of its own (picked here, in the arbiter).

    A worker runs Python in one thread at a time (the GIL), and its threads hand the lock to
    each other at every SQLite call. Handed between two cores, each hand-over woke a thread
    on the other core and moved the page's working set with it: with two pages at once in a
    worker, a member page took 25–55 % more CPU than alone. Kept on one core, the hand-overs
    cost almost nothing (bench/README.md, sixth pass). Workers take the last processors
    first, away from the first, where the kernel and the bridge's interrupts tend to land.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return
    taken = [getattr(w, "stampbox_cpu", None) for w in server.WORKERS.values()]
    free = [c for c in reversed(cpus) if c not in taken]
    worker.stampbox_cpu = free[0] if free else cpus[-1 - len(taken) % len(cpus)]


def post_fork(server, worker) -> None:
    cpu = getattr(worker, "stampbox_cpu", None)
    if cpu is None:
        return
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:  # a container or policy that forbids it: serve unpinned
        server.log.warning("web worker not pinned to processor %s: %s", cpu, exc)
