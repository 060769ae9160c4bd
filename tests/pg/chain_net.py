"""A chain on one machine for tests: a hub nats-server and PostgreSQL, N boxes (own SQLite,
own nats-server as a leaf of the hub, one shared code key as provisioning gives them)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from appliance import box as box_mod
from appliance.chain import box_id
from appliance.chain.hub import Hub
from appliance.chain.natsbin import NatsServer, box_config
from appliance.chain.sync import BoxSync
from appliance.db import database
from appliance.provision import init_box
from appliance.settings import load_settings

from ..conftest import T0
from .cluster import free_port


@dataclass
class Shop:
    box: object
    server: NatsServer
    sync: BoxSync

    @property
    def id(self) -> str:
        return box_id(self.box.db)

    def use(self) -> None:
        """Make this shop the process's current box (the core's defaults follow it)."""
        database.initialize(self.box.db)
        box_mod._current = self.box

    def count(self, query: str) -> int:
        return self.box.db.execute_sql(query).fetchone()[0] or 0


class Chain:
    def __init__(self, tmp_path, hub_db, hub_nats, boxes: int = 2, ack_wait: float = 30.0) -> None:
        self.hub_db, self.hub_nats = hub_db, hub_nats
        self.shops: list[Shop] = []
        # the centre first: a box's mirror of a STATE stream that does not exist yet would
        # wait for nats-server's retry
        self.hub = Hub(hub_db, hub_nats.url, ack_wait=ack_wait)
        self.hub.initialize()
        key = secrets.token_hex(32)
        for n in range(boxes):
            port = free_port()
            settings = load_settings(
                environ={},
                data_dir=tmp_path / f"shop{n}",
                timezone="UTC",
                chain_nats_url=f"nats://127.0.0.1:{port}",
                chain_claim_timeout_ms=2000,
            )
            settings.secrets_dir.mkdir(parents=True)
            (settings.secrets_dir / "code_key").write_text(key)
            init_box(settings, now=T0)
            box = box_mod.current()
            config = box_config(tmp_path / f"js{n}", port, box_id(box.db), hub_nats.leaf_url)
            server = NatsServer(tmp_path / f"nats{n}", config, port).start()
            sync = BoxSync(box.db, server.url)
            sync.initialize()
            self.shops.append(Shop(box, server, sync))
        self.hub.add_boxes([s.id for s in self.shops])

    def hub_count(self, query: str) -> int:
        return self.hub_db.execute_sql(query).fetchone()[0] or 0

    def settle(self, done, limit: float = 60.0) -> bool:
        """Run every box's sync and the hub until done() holds (or the limit passes)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for shop in self.shops:
                shop.sync.relay.loop()
            self.hub.loop(timeout=0.2)
            for shop in self.shops:
                shop.sync.mirror.loop(timeout=0.05)
            if done():
                return True
        return False

    def close(self) -> None:
        self.hub.shutdown()
        for shop in self.shops:
            shop.sync.shutdown()
            shop.server.stop()
            shop.box.db.close()
        box_mod.stop()
