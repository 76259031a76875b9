"""Keeps ONE Databricks Python SDK client calling a workspace for a while, across token rotations.

Usage: python sdk_live.py <profile> <seconds> [interval_seconds]

Builds one `WorkspaceClient(profile=...)` from $DATABRICKS_CONFIG_FILE and calls
`current_user.me()` every interval (default 0.3 s) for <seconds>. Each call prints one JSON line:
{"i": n, "ok": true, "userName": ..., "fp": "<sha256 of the bearer token the client holds>"} or
{"i": n, "ok": false, "error": "..."}; the last line is a summary
{"summary": true, "calls": n, "failures": n, "distinct": n}. Exit 0 only if every call worked.
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
    if len(sys.argv) not in (3, 4):
        print("usage: sdk_live.py <profile> <seconds> [interval_seconds]", file=sys.stderr)
        return 2
    profile, seconds = sys.argv[1], float(sys.argv[2])
    interval = float(sys.argv[3]) if len(sys.argv) == 4 else 0.3
    w = WorkspaceClient(profile=profile)
    deadline = time.monotonic() + seconds
    calls = failures = 0
    seen = []
    while time.monotonic() < deadline:
        calls += 1
        try:
            me = w.current_user.me()
            fp = bearer_fingerprint(w)
            if fp not in seen:
                seen.append(fp)
            print(json.dumps({"i": calls, "ok": True, "userName": me.user_name, "fp": fp}), flush=True)
        except Exception as e:  # report and keep going: the test counts failures
            failures += 1
            print(json.dumps({"i": calls, "ok": False, "error": f"{type(e).__name__}: {e}"[:300]}), flush=True)
        time.sleep(interval)
    print(json.dumps({"summary": True, "calls": calls, "failures": failures, "distinct": len(seen)}), flush=True)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
