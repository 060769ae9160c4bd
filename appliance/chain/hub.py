"""`stampbox hub`: the centre's three services in one process.

The ingest (every box's events into PostgreSQL) and the state publisher (what changed → the
STATE stream) take turns in the main loop; the claim service answers vouchers' claims in its
own thread, so a claim never waits behind a batch being applied.
"""

from __future__ import annotations

from .claims import ClaimService
from .ingest import Ingest
from .state import Publisher


class Hub:
    """initialize(box_ids), loop(now), shutdown(): ingest, publish, and answer claims."""

    def __init__(self, db, nats_url: str, *, batch: int = 256, ack_wait: float = 30.0) -> None:
        self.ingest = Ingest(db, nats_url, batch=batch, ack_wait=ack_wait)
        self.publisher = Publisher(db, nats_url)
        self.claims = ClaimService(db, nats_url)

    def initialize(self, box_ids=()) -> None:
        self.ingest.initialize(box_ids)
        self.publisher.initialize()
        self.claims.start()

    def add_boxes(self, box_ids) -> None:
        self.ingest.add_boxes(box_ids)

    def loop(self, now=None, timeout: float = 0.5) -> int:
        """One pass; returns events fetched plus states published (0: nothing to do)."""
        done = self.ingest.loop(now, timeout=timeout)
        while True:
            published = self.publisher.loop(now)
            done += published
            if not published:
                return done

    def shutdown(self) -> None:
        self.claims.stop()
        self.publisher.shutdown()
        self.ingest.shutdown()
