"""A separate process acting through the real core on the box named by STAMPBOX_* variables.

usage: python -m tests.pg.worker tap|redeem|burst TOKEN GO_FILE
Prints "ready" once the box is open, waits for GO_FILE to exist (so that every worker hits
the database at the same instant), then prints one JSON line per acknowledged result.
"""

import json
import os
import sys
import time

from appliance import box
from appliance.counter import handle
from appliance.vouchers import redeem_voucher


def main() -> None:
    action, token, go_file = sys.argv[1:4]
    box.start(upgrade=False)
    print("ready", flush=True)
    while not os.path.exists(go_file):
        time.sleep(0.0005)
    if action == "tap":
        print(json.dumps(handle(token, "proc").to_dict()), flush=True)
    elif action == "redeem":
        print(json.dumps(redeem_voucher(token).to_dict()), flush=True)
    elif action == "burst":
        uids = token.split(",")
        for i in range(10**9):
            result = handle(uids[i % len(uids)], "burst")
            line = {"event_id": result.event_id, "status": result.status,
                    "member": result.member["id"]}  # fmt: skip
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
