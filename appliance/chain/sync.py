"""A box's side of the chain: the relay (events out) and the mirror (other shops' state in)."""

from __future__ import annotations

import threading

from .mirror import Mirror
from .relay import Relay


class BoxSync:
    """initialize(), loop(now), shutdown(); start_mirror() moves the mirror to its own thread.

    In one loop the relay would wait while the mirror's pull waits for news from the centre;
    in its own thread the mirror waits as long as it likes and the relay sends each tap at once.
    """

    def __init__(self, db, nats_url: str) -> None:
        self.relay = Relay(db, nats_url)
        self.mirror = Mirror(db, nats_url)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def initialize(self) -> None:
        self.relay.initialize()
        self.mirror.initialize()

    def start_mirror(self) -> None:
        def run():
            while not self._stop.is_set():
                self.mirror.loop(timeout=1.0)

        self._thread = threading.Thread(target=run, name="chain-mirror", daemon=True)
        self._thread.start()

    def loop(self, now=None, timeout: float = 0.2) -> int:
        sent = self.relay.loop(now)
        if self._thread is None:
            sent += self.mirror.loop(now, timeout=timeout)
        return sent

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.mirror.shutdown()
        self.relay.shutdown()
