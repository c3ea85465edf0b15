"""A sync run in its own process, for the kill tests: it can pause inside a transaction to be SIGKILLed.

    python tests/e2e/sync_child.py STORE_URL KEY_DIR SANDBOX_URL ACCOUNT_ID STAGE N

STAGE `stored` pauses once N order versions of this run are stored (inside the page's transaction),
`booked` inside the first booking batch of N items, `none` runs to the end and prints the report.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.runner import remote_sandbox_endpoint
from orderbridge.jobs.tasks import Runtime, configure, sync_account_orders
from orderbridge.privacy.keystore import open_keystore

PAGE_SIZE = 10


def pause(stage: str, limit: int) -> Callable[[int], None]:
    def hook(count: int) -> None:
        if count >= limit:
            print(f"PAUSED {stage} {count}", flush=True)
            time.sleep(3600)  # the parent SIGKILLs this process now

    return hook


def main(args: list[str]) -> None:
    store_url, key_dir, sandbox_url, account_id, stage, n = args
    keys = open_keystore(Path(key_dir) / "keys", key_file=Path(key_dir) / "kek", environ={})
    runtime = Runtime(session_factory(make_engine(store_url)), keys)
    endpoint = remote_sandbox_endpoint(sandbox_url)
    assert endpoint is not None, f"no sandbox at {sandbox_url}"
    runtime.endpoints[sandbox_url] = endpoint
    options = replace(
        runtime.options, page_size=PAGE_SIZE, booking_batch=int(n) if stage == "booked" else 500
    )
    if stage == "stored":
        options = replace(options, on_stored=pause(stage, int(n)))
    elif stage == "booked":
        options = replace(options, on_booked=pause(stage, int(n)))
    runtime.options = options
    configure(runtime)
    report = sync_account_orders(int(account_id))
    print("REPORT " + json.dumps(report, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:7])
