"""A separate process that taps or redeems through the real core (used by multi-process tests).

usage: python tests/tap_worker.py DATA_DIR tap|redeem|burst TOKEN START_AT
Waits until START_AT (epoch seconds) so that all workers hit the database together, then
prints one JSON line per acknowledged result, flushed.
"""

import json
import sys
import time

from appliance import box
from appliance.counter import handle
from appliance.settings import load_settings
from appliance.vouchers import redeem_voucher


def main() -> None:
    data_dir, action, token, start_at = sys.argv[1:5]
    # a burst stamps the same cards round and round: no cooldown there
    cooldown = 0 if action == "burst" else 30
    box.start(
        load_settings(
            environ={}, data_dir=data_dir, timezone="UTC", stamp_cooldown_minutes=cooldown
        )
    )
    while time.time() < float(start_at):
        time.sleep(0.0005)
    if action == "tap":
        print(json.dumps(handle(token, "proc").to_dict()), flush=True)
    elif action == "redeem":
        print(json.dumps(redeem_voucher(token).to_dict()), flush=True)
    elif action == "burst":
        # token is a comma-separated list of UIDs, tapped round and round until killed
        uids = token.split(",")
        i = 0
        while True:
            result = handle(uids[i % len(uids)], "burst", stamps=1)
            print(
                json.dumps(
                    {
                        "event_id": result.event_id,
                        "status": result.status,
                        "member": result.member["id"],
                        "stamps": result.card["stamps"],
                    }
                ),
                flush=True,
            )
            i += 1


if __name__ == "__main__":
    main()
