"""Asks a workspace "who am I?" through the real Databricks Python SDK.

Usage: python sdk_me.py <profile>

Reads the profile from $DATABRICKS_CONFIG_FILE (as written by Lakepass), calls SCIM Me with
`WorkspaceClient.current_user.me()`, and prints one JSON line: {"userName": ..., "host": ...}.
Errors go to stderr with a non-zero exit. Never prints the token.
"""

import json
import sys

from databricks.sdk import WorkspaceClient


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: sdk_me.py <profile>", file=sys.stderr)
        return 2
    w = WorkspaceClient(profile=sys.argv[1])
    me = w.current_user.me()
    print(json.dumps({"userName": me.user_name, "host": w.config.host}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
