"""The chain's NATS workers (relay, ingest, state publisher, mirror) are synchronous objects
driven by a loop in a thread or process; nats-py is asyncio. NatsClient gives each worker its
own event loop, runs coroutines on it, and owns the connection: opened reconnecting forever
(the centre may be away for days), errors logged in one line, closed with the loop."""

from __future__ import annotations

import asyncio

from .natsbin import log_nats_error


class NatsClient:
    """initialize() (the subclass's) once, then its loop(); shutdown() at the end."""

    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self._aio = asyncio.new_event_loop()
        self._nc = None

    def _run(self, coro):
        return self._aio.run_until_complete(coro)

    async def _connect(self, **options):
        import nats

        self._nc = await nats.connect(
            self.nats_url, error_cb=log_nats_error, max_reconnect_attempts=-1, **options
        )
        return self._nc

    def shutdown(self) -> None:
        if self._nc is not None:
            self._run(self._nc.close())
        self._aio.close()
