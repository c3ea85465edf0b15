"""An outbox sender in its own process, for the kill test: it pauses right after Amazon accepted a
confirmation and before that is committed, to be SIGKILLed there.

    python tests/e2e/outbox_child.py STORE_URL KEY_DIR SANDBOX_URL PAUSE_AFTER
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from orderbridge.amazon.outbound.sender import send_outbox
from orderbridge.amazon.outbound.sender_pass import SenderDeps, SenderOptions
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.runner import remote_sandbox_endpoint
from orderbridge.jobs.tasks import Runtime
from orderbridge.privacy.keystore import open_keystore


def main(args: list[str]) -> None:
    store_url, key_dir, sandbox_url, pause_after = args
    keys = open_keystore(Path(key_dir) / "keys", key_file=Path(key_dir) / "kek", environ={})
    runtime = Runtime(session_factory(make_engine(store_url)), keys)
    endpoint = remote_sandbox_endpoint(sandbox_url)
    assert endpoint is not None, f"no sandbox at {sandbox_url}"
    runtime.endpoints[sandbox_url] = endpoint
    confirmed: list[int] = []

    def pause(message_id: int) -> None:
        confirmed.append(message_id)
        if len(confirmed) >= int(pause_after):
            print(f"PAUSED {message_id}", flush=True)
            time.sleep(3600)  # the parent SIGKILLs this process now

    deps = SenderDeps(runtime.sessions, runtime.client, endpoint.clock, SenderOptions(on_confirmed=pause))
    print("REPORT " + json.dumps(asdict(send_outbox(deps))), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:5])
