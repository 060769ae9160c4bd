"""Hub mode's job queue: with the database on PostgreSQL, Huey's queue is there too."""

import json
import os
import subprocess
import sys

from ..conftest import ROOT

PROBE = """
import json
from appliance.jobs import huey
huey.storage.enqueue(b"job-1")
print(json.dumps({"kind": type(huey).__name__, "length": huey.storage.queue_size(),
                  "got": huey.storage.dequeue().decode()}))
"""


def test_the_queue_is_in_postgresql_when_the_database_is(pg_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAMPBOX_")}
    env.update(STAMPBOX_DATA_DIR=str(tmp_path / "hub"), STAMPBOX_DATABASE_URL=pg_url)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60,
        cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"kind": "PostgresHuey", "length": 1, "got": "job-1"}
    assert not (tmp_path / "hub" / "queue.db").exists()
