"""The Python baseline for `lakepass token --raw`: a credential helper in the style of the
gateway Lakepass replaces (python -m credential_helper). Written for this benchmark, not copied.

Per call it does what that helper does on a cache hit: start an interpreter, import its
dependencies (requests, keyring, msal), load a JSON config, read the cached token from a JSON
file, check its expiry, print JSON. It never touches the network.
"""

import argparse
import json
import os
import sys
import time

import keyring  # noqa: F401  (imported by the gateway's token cache)
import msal  # noqa: F401  (imported by the gateway's Azure AD login)
import requests  # noqa: F401  (imported by the gateway's token exchange)


def load_config(path):
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    for key in ("databricks_host", "azure_ad", "token_cache"):
        if key not in cfg:
            raise SystemExit(f"config {path} lacks {key}")
    return cfg


def cached_token(cache_path, host):
    try:
        with open(cache_path, encoding="utf-8") as f:
            cache = json.load(f)
    except FileNotFoundError:
        return None
    entry = cache.get(host)
    if not entry:
        return None
    # Treat a token within a minute of expiry as expired, as a refreshing helper must.
    if entry["expires_at"] - 60 <= time.time():
        return None
    return entry


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--cache", required=True)
    a = p.parse_args()
    cfg = load_config(a.config)
    entry = cached_token(os.path.expanduser(a.cache), cfg["databricks_host"])
    if entry is None:
        print(json.dumps({"error": "no valid cached token"}), file=sys.stderr)
        return 6
    print(json.dumps({"token": entry["token"], "expires_in": int(entry["expires_at"] - time.time())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
