"""A box's side of the chain in one loop: the relay (out) and the mirror (in)."""

from __future__ import annotations

from .mirror import Mirror
from .relay import Relay


class BoxSync:
    """initialize(), loop(now), shutdown(): send unsent events, apply the centre's state."""

    def __init__(self, db, nats_url: str) -> None:
        self.relay = Relay(db, nats_url)
        self.mirror = Mirror(db, nats_url)

    def initialize(self) -> None:
        self.relay.initialize()
        self.mirror.initialize()

    def loop(self, now=None, timeout: float = 0.2) -> int:
        return self.relay.loop(now) + self.mirror.loop(now, timeout=timeout)

    def shutdown(self) -> None:
        self.mirror.shutdown()
        self.relay.shutdown()
