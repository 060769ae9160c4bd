"""Gunicorn settings for the box's web process (`appliance.processes.web_command`).

Gunicorn reads this module through `--config python:web.gunicorn_conf`.
"""

from __future__ import annotations

import gc


def post_worker_init(worker) -> None:
    """The worker has imported the app and its libraries: keep them out of the collector.

    About 180,000 objects live from startup to exit: Flask, Jinja, Babel's locale data,
    the app's modules. Every full garbage collection walked all of them. A member page
    makes enough objects to set one off every few dozen requests. Frozen objects are
    never collected, and none of them are garbage. Measured on the member page, 100k shop:
    7–9 % less CPU per request (bench/README.md, fifth pass).
    """
    gc.freeze()
