"""One accepted redemption per voucher across the chain.

Online, a box asks the centre first (`chain.claim`, request/reply through its leaf server);
the centre's `INSERT … ON CONFLICT DO NOTHING RETURNING` on chain_claim picks exactly one
winner. Without an answer in time the box redeems provisionally; when that redemption's
event reaches the centre it claims the voucher the same way, and if another redemption got
there first it is recorded as a conflict, which the mirror carries back to the losing box.
"""

from __future__ import annotations

import asyncio
import json
import threading

from ..clock import to_micros, utcnow
from ..db import sql
from .natsbin import log_nats_error
from .state import mark_dirty

CLAIM_SUBJECT = "chain.claim"
HELLO_SUBJECT = "chain.hello"

_CLAIM = (
    "INSERT INTO chain_claim (voucher_code, box_id, event_id, at, online, claimed_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (voucher_code) DO NOTHING RETURNING box_id"
)
_WINNER = "SELECT box_id, event_id, at FROM chain_claim WHERE voucher_code = ?"
_CONFLICT = (
    "INSERT INTO chain_conflict (voucher_code, event_id, box_id, winner_box, at, recorded_at,"
    " note) VALUES (?, ?, ?, ?, ?, ?, '') ON CONFLICT (event_id) DO NOTHING"
)


def settle_redemption(db, code, box, event_id, at, online, now_us) -> dict:
    """Claim `code` for this redemption inside the caller's transaction.

    Returns {"ok": True} for the winner (or a repeat of the winner's own claim), else
    {"ok": False, "box", "at"} naming the winner. A provisional (not online) redemption
    that lost is recorded in chain_conflict; a refused online claim redeemed nothing.
    """
    won = db.execute_sql(sql(_CLAIM, db), (code, box, event_id, at, online, now_us)).fetchone()
    if won is not None:
        mark_dirty(db, "voucher", code, now_us)
        return {"ok": True}
    winner_box, winner_event, winner_at = db.execute_sql(sql(_WINNER, db), (code,)).fetchone()
    if winner_event == event_id:
        return {"ok": True}
    if not online:
        db.execute_sql(sql(_CONFLICT, db), (code, event_id, box, winner_box, at, now_us))
        mark_dirty(db, "voucher", code, now_us)
    return {"ok": False, "box": winner_box, "at": winner_at}


class ClaimService:
    """The centre's claim responder, in its own thread (its own event loop and connection)."""

    def __init__(self, db, nats_url: str, on_hello=None) -> None:
        self.db, self.nats_url = db, nats_url
        # a box saying it reached the centre again (its leaf reconnected): see Hub
        self.on_hello = on_hello or (lambda box: None)
        self.answered = 0
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None  # the last claim that could not be decided
        self._failed: BaseException | None = None  # the service itself could not run

    def decide(self, request: dict, now=None) -> dict:
        with self.db.atomic():
            return settle_redemption(
                self.db,
                request["voucher"],
                request["box"],
                request["event"],
                request["at"],
                True,
                to_micros(now or utcnow()),
            )

    async def _on_request(self, msg) -> None:
        try:
            answer = self.decide(json.loads(msg.data))
        except Exception as exc:  # noqa: BLE001 - no answer: the box redeems provisionally
            self._error = exc
            return
        self.answered += 1
        await msg.respond(json.dumps(answer).encode())

    async def _on_hello(self, msg) -> None:
        self.on_hello(msg.data.decode())
        await msg.respond(b"ok")

    async def _serve(self) -> None:
        import nats

        self._stop = asyncio.Event()
        nc = await nats.connect(self.nats_url, error_cb=log_nats_error, max_reconnect_attempts=-1)
        await nc.subscribe(CLAIM_SUBJECT, queue="claims", cb=self._on_request)
        await nc.subscribe(HELLO_SUBJECT, queue="claims", cb=self._on_hello)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.close()

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._failed = exc
            self._ready.set()
        finally:
            self.db.close()
            self._loop.close()

    def start(self, wait: float = 20.0) -> ClaimService:
        self._thread = threading.Thread(target=self._main, name="chain-claims", daemon=True)
        self._thread.start()
        if not self._ready.wait(wait):
            raise RuntimeError(f"the claim service could not reach {self.nats_url} in {wait} s")
        if self._failed is not None:
            raise RuntimeError(f"the claim service could not start: {self._failed}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)


def claim_voucher(nats_url: str, request: dict, timeout: float) -> dict | None:
    """Ask the centre for this voucher; None when it did not answer in time (go provisional)."""
    import nats

    async def ask():
        nc = await nats.connect(
            nats_url,
            error_cb=log_nats_error,
            connect_timeout=timeout,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
        try:
            msg = await nc.request(CLAIM_SUBJECT, json.dumps(request).encode(), timeout=timeout)
            return json.loads(msg.data)
        finally:
            await nc.close()

    try:
        return asyncio.run(asyncio.wait_for(ask(), timeout * 2))
    except Exception:  # noqa: BLE001 - no server, no responder, timeout: all mean "offline"
        return None
