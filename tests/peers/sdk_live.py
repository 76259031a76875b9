"""Keeps ONE Databricks Python SDK client calling a workspace until it has seen token rotations.

Usage: python sdk_live.py <profile> <rotations> [per_rotation_timeout_seconds] [interval_seconds]

Builds one `WorkspaceClient(profile=...)` from $DATABRICKS_CONFIG_FILE and calls
`current_user.me()` every interval (default 0.3 s) until the bearer token it holds has changed
<rotations> times, waiting for each change at most per_rotation_timeout_seconds (default 60).
It waits for the event, not for a fixed time: a slow machine only makes it wait longer.
Each call prints one JSON line:
{"i": n, "ok": true, "userName": ..., "fp": "<sha256 of the bearer token the client holds>"} or
{"i": n, "ok": false, "error": "..."}; the last line is a summary
{"summary": true, "calls": n, "failures": n, "distinct": n, "rotations_seen": n,
 "timed_out": bool}. Exit 0 only if every call worked and every rotation came in time.
Tokens are never printed: only their SHA-256, which the devstack's stats also record.
"""

import hashlib
import json
import sys
import time

from databricks.sdk import WorkspaceClient


def bearer_fingerprint(w: WorkspaceClient) -> str:
    auth = w.config.authenticate().get("Authorization", "")
    token = auth.split(" ", 1)[1] if " " in auth else auth
    return hashlib.sha256(token.encode()).hexdigest()


def main() -> int:
    if len(sys.argv) not in (3, 4, 5):
        print("usage: sdk_live.py <profile> <rotations> [per_rotation_timeout_seconds] [interval_seconds]",
              file=sys.stderr)
        return 2
    profile, rotations = sys.argv[1], int(sys.argv[2])
    per_rotation = float(sys.argv[3]) if len(sys.argv) >= 4 else 60.0
    interval = float(sys.argv[4]) if len(sys.argv) == 5 else 0.3
    w = WorkspaceClient(profile=profile)
    calls = failures = 0
    seen = []
    timed_out = False
    waiting_since = time.monotonic()
    while len(seen) < rotations + 1:
        if time.monotonic() - waiting_since > per_rotation:
            timed_out = True
            break
        calls += 1
        try:
            # The token held before and after the call: when they agree, the call carried it (a
            # token fetched after the call, at a rotation, was never sent, so it is not counted yet).
            before = bearer_fingerprint(w)
            me = w.current_user.me()
            fp = bearer_fingerprint(w)
            if fp != before:
                print(json.dumps({"i": calls, "ok": True, "userName": me.user_name, "rotating": True}), flush=True)
                time.sleep(interval)
                continue
            if fp not in seen:
                seen.append(fp)
                waiting_since = time.monotonic()
            print(json.dumps({"i": calls, "ok": True, "userName": me.user_name, "fp": fp}), flush=True)
        except Exception as e:  # report and keep going: the test counts failures
            failures += 1
            print(json.dumps({"i": calls, "ok": False, "error": f"{type(e).__name__}: {e}"[:300]}), flush=True)
        time.sleep(interval)
    print(json.dumps({"summary": True, "calls": calls, "failures": failures, "distinct": len(seen),
                      "rotations_seen": max(len(seen) - 1, 0), "timed_out": timed_out}), flush=True)
    return 0 if failures == 0 and not timed_out else 1


if __name__ == "__main__":
    sys.exit(main())
