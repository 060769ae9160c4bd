"""Cut/restore cycles of the centre under a stream of taps in three shops (seeded; the seed is
printed: CHAIN_SEED=N replays a run). Within the cycles a relay dies between JetStream's ack
and marking its rows sent, and the ingest between its commit and its acks. Afterwards:
PostgreSQL's visits equal the boxes' visits, no event was applied twice, every shop shows
every shop's stamps, each voucher has at most one accepted redemption, and the offline
double redemptions made equal the conflicts recorded."""

import os
import random
from datetime import timedelta

import pytest

from appliance.counter import handle
from appliance.members import add_member
from appliance.vouchers import redeem_voucher

from ..conftest import T0
from .chain_net import Chain

UIDS = [f"04A23B4C5D6F{i:02X}" for i in range(6)]
CYCLES = int(os.environ.get("CHAIN_CYCLES", "3"))


BOXES_ON_SQLITE = True  # only the centre is on PostgreSQL (conftest)


class Taps:
    """Taps spread over the shops, 31 minutes apart on one clock (never a cooldown)."""

    def __init__(self, chain, rng):
        self.chain, self.rng, self.n = chain, rng, 0

    def next_at(self):
        self.n += 1
        return T0 + timedelta(minutes=31 * self.n)

    def burst(self, count):
        for _ in range(count):
            shop = self.rng.choice(self.chain.shops)
            result = handle(self.rng.choice(UIDS), "t", now=self.next_at(), box=shop.box)
            assert result.status == "stamped", result.message
            if self.rng.random() < 0.3:
                shop.sync.relay.loop()


def _usable_everywhere(chain):
    """Vouchers no shop has redeemed, known in every shop."""
    sets = [
        {r[0] for r in s.box.db.execute_sql("SELECT code FROM voucher WHERE redeemed_at IS NULL")}
        for s in chain.shops
    ]
    return sorted(set.intersection(*sets))


def _converged(chain):
    hub_visits = chain.hub_count("SELECT COUNT(*) FROM chain_visit")
    if hub_visits != sum(s.count("SELECT COUNT(*) FROM visit") for s in chain.shops):
        return False
    events = sum(s.count("SELECT COUNT(*) FROM event") for s in chain.shops)
    if chain.hub_count("SELECT COUNT(*) FROM chain_inbox") != events:
        return False
    if any(s.count("SELECT COUNT(*) FROM event WHERE sent_at IS NULL") for s in chain.shops):
        return False
    per_card = dict(chain.hub_db.execute_sql(
        "SELECT cc.nfc_uid, COUNT(v.id) FROM chain_card cc"
        " LEFT JOIN chain_visit v ON v.card_code = cc.code GROUP BY cc.nfc_uid"
    ).fetchall())  # fmt: skip
    for shop in chain.shops:
        seen = dict(shop.box.db.execute_sql(
            "SELECT c.nfc_uid, m.visit_count FROM card c JOIN member m ON m.id = c.member_id"
        ).fetchall())  # fmt: skip
        if any(seen.get(uid) != per_card.get(uid) for uid in UIDS):
            return False
    return True


@pytest.mark.slow  # ~30 s: three boxes, three restarts of the centre's server
def test_cut_and_restore_cycles_of_the_centre_lose_nothing_and_apply_nothing_twice(
    tmp_path, hub_db, hub_nats
):
    seed = int(os.environ.get("CHAIN_SEED", random.randrange(1 << 30)))
    print(f"CHAIN_SEED={seed}")
    rng = random.Random(seed)
    chain = Chain(tmp_path, hub_db, hub_nats, boxes=3, ack_wait=2.0)
    try:
        chain.shops[0].use()
        for uid in UIDS:
            add_member("M", card_uid=uid, now=T0)
        cards = "SELECT COUNT(*) FROM card"
        assert chain.settle(lambda: all(s.count(cards) == len(UIDS) for s in chain.shops))
        taps = Taps(chain, rng)
        doubles = 0
        for cycle in range(CYCLES):
            # centre up: taps flow; a relay dies between the ack and the mark
            taps.burst(rng.randint(20, 40))
            victim = rng.choice(chain.shops)
            handle(UIDS[0], "t", now=taps.next_at(), box=victim.box)
            assert victim.sync.relay.publish(victim.sync.relay.pending())  # acked, not marked
            # the ingest dies between its commit and its acks: redelivered after ack_wait
            chain.hub.ingest.apply(chain.hub.ingest.fetch(timeout=1.0))
            assert chain.settle(lambda: _converged(chain), limit=60), f"cycle {cycle}: up"
            # centre cut: taps go on in every shop; a voucher is redeemed in two of them
            hub_nats.kill()
            taps.burst(rng.randint(20, 40))
            usable = _usable_everywhere(chain)
            if usable:
                code = rng.choice(usable)
                for k, shop in enumerate(rng.sample(chain.shops, 2)):
                    shop.use()
                    at = T0 + timedelta(minutes=31 * taps.n + k + 1)
                    done = redeem_voucher(code, now=at, box=shop.box)
                    assert done.status == "redeemed", done.message
                doubles += 1
            for shop in chain.shops:
                shop.sync.relay.loop()
            hub_nats.start()
            assert chain.settle(lambda: _converged(chain), limit=90), f"cycle {cycle}: restored"
        absorbed = chain.hub.ingest.stats.absorbed
        assert chain.settle(
            lambda: chain.hub_count("SELECT COUNT(*) FROM chain_conflict") == doubles, limit=30
        )
    finally:
        chain.close()
    # no event applied twice: one inbox row per event, one visit per stamp event
    visits = chain.hub_count("SELECT COUNT(*) FROM chain_visit")
    assert visits == chain.hub_count("SELECT COUNT(DISTINCT event_id) FROM chain_visit")
    assert visits == taps.n
    assert absorbed > 0  # the redelivered and republished events were absorbed, not applied
    # each voucher at most one accepted redemption; offline doubles = conflicts recorded
    assert chain.hub_count(
        "SELECT COUNT(*) FROM (SELECT voucher_code FROM chain_claim GROUP BY voucher_code"
        " HAVING COUNT(*) > 1) x"
    ) == 0  # fmt: skip
    assert chain.hub_count("SELECT COUNT(*) FROM chain_conflict") == doubles
    marked = sum(
        s.count("SELECT COUNT(*) FROM voucher WHERE chain_state = 'conflict'") for s in chain.shops
    )
    assert marked == doubles
