"""`stampbox hub`: the centre's three services in one process.

The ingest (every box's events into PostgreSQL) and the state publisher (what changed → the
STATE stream) take turns in the main loop; the claim service answers vouchers' claims in its
own thread, so a claim never waits behind a batch being applied.
"""

from __future__ import annotations

import time

from .claims import ClaimService
from .ingest import Ingest
from .provision import registered_boxes
from .state import Publisher

REFRESH_EVERY_S = 10.0


class Hub:
    """initialize(box_ids), loop(now), shutdown(): ingest, publish, and answer claims."""

    def __init__(self, db, nats_url: str, *, batch: int = 256, ack_wait: float = 30.0) -> None:
        self.db = db
        self._sourced: set[str] = set()
        self._next_refresh = 0.0
        self.ingest = Ingest(db, nats_url, batch=batch, ack_wait=ack_wait)
        self.publisher = Publisher(db, nats_url)
        self.claims = ClaimService(db, nats_url, on_hello=self._hello)

    def _hello(self, _box: str) -> None:
        # a box's leaf is back: its source may have given up meanwhile (nats-server retries
        # a lost source on its own slow schedule), so re-attach the sources now
        self.ingest.request_reattach()

    def initialize(self, box_ids=()) -> None:
        """Start; the stream sources every box given and every box registered (provisioned)."""
        self._sourced = {*box_ids, *registered_boxes(self.db)}
        self.ingest.initialize(sorted(self._sourced))
        self.publisher.initialize()
        self.claims.start()

    def add_boxes(self, box_ids) -> None:
        self.ingest.add_boxes(box_ids)
        self._sourced.update(box_ids)

    def refresh_boxes(self) -> list[str]:
        """Source the boxes provisioned since the last look; returns them."""
        new = [b for b in registered_boxes(self.db) if b not in self._sourced]
        if new:
            self.add_boxes(new)
        return new

    def loop(self, now=None, timeout: float = 0.5) -> int:
        """One pass; returns events fetched plus states published (0: nothing to do)."""
        if time.monotonic() >= self._next_refresh:
            self._next_refresh = time.monotonic() + REFRESH_EVERY_S
            self.refresh_boxes()
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
