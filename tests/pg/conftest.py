"""The core's tests against PostgreSQL: one cluster per session, one fresh database per test.

Overriding `settings` and `cli_env` here is all it takes: the shared fixtures (init_info,
box, stampbox) then build the box on PostgreSQL through STAMPBOX_DATABASE_URL.
"""

from __future__ import annotations

import os

import pytest

from appliance import migrate
from appliance.chain import box_id
from appliance.chain.natsbin import NatsServer, box_config, hub_config
from appliance.db import open_database
from appliance.settings import load_settings

from .cluster import Cluster, free_port


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory):
    try:
        cluster = Cluster()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise  # `make test` installs it: missing in CI is a broken install, not a skip
        pytest.skip(str(exc))
    cluster.start()
    # migrated once; each test's database is a copy of it (cheaper than migrating each time)
    cluster.template = cluster.create_database("schema")
    settings = load_settings(
        environ={},
        data_dir=tmp_path_factory.mktemp("pg-template"),
        database_url=cluster.url(cluster.template),
    )
    db = open_database(settings, bind=False)
    migrate.upgrade(db)
    db.close()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A new database at the schema's head (migrated, no rows), dropped afterwards."""
    name = pg_cluster.create_database(template=pg_cluster.template)
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture
def pg_empty_url(pg_cluster):
    """A new database without any table, dropped afterwards."""
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture
def settings(request, tmp_path):
    """The box on PostgreSQL; a chain test module saying BOXES_ON_SQLITE = True keeps its boxes
    on SQLite, as shops run them, with only the centre (hub_db) on PostgreSQL."""
    if getattr(request.module, "BOXES_ON_SQLITE", False):
        return load_settings(environ={}, data_dir=tmp_path / "var", timezone="UTC")
    url = request.getfixturevalue("pg_url")
    return load_settings(environ={}, data_dir=tmp_path / "var", timezone="UTC", database_url=url)


@pytest.fixture
def cli_env(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAMPBOX_")}
    env.update(
        STAMPBOX_DATA_DIR=str(settings.data_dir),
        STAMPBOX_TIMEZONE="UTC",
        STAMPBOX_DATABASE_URL=settings.database_url,
    )
    return env


# -- chain mode: real nats-server processes, the hub and one box (a leaf of the hub) --


@pytest.fixture
def hub_nats(tmp_path):
    leaf = free_port()
    port = free_port()
    server = NatsServer(tmp_path / "nats-hub", hub_config(tmp_path / "js-hub", port, leaf), port)
    server.leaf_url = f"nats-leaf://127.0.0.1:{leaf}"
    yield server.start()
    server.stop()


@pytest.fixture
def hub_db(pg_url, tmp_path):
    """The centre's PostgreSQL database."""
    db = open_database(
        load_settings(environ={}, data_dir=tmp_path / "hub", database_url=pg_url), bind=False
    )
    yield db
    db.close()


@pytest.fixture
def chain(tmp_path, hub_db, hub_nats):
    """Two shops (SQLite boxes with their leaf nats-servers) and the centre."""
    from .chain_net import Chain

    chain = Chain(tmp_path, hub_db, hub_nats, boxes=2)
    yield chain
    chain.close()


@pytest.fixture
def box_nats(tmp_path, hub_nats, box):
    port = free_port()
    config = box_config(tmp_path / "js-box", port, box_id(box.db), hub_nats.leaf_url)
    server = NatsServer(tmp_path / "nats-box", config, port)
    yield server.start()
    server.stop()
