// Keeps ONE Databricks JavaScript SDK client (npm @databricks/sdk-experimental) calling a
// workspace until it has seen token rotations: the JavaScript twin of sdk_live.py.
//
// Usage: node sdk_live.mjs <profile> <rotations> [per_rotation_timeout_seconds] [interval_seconds]
//
// Builds one `new WorkspaceClient({ profile })` from $DATABRICKS_CONFIG_FILE and calls
// `currentUser.me()` every interval (default 0.3 s) until the bearer token it holds has changed
// <rotations> times, waiting for each change at most per_rotation_timeout_seconds (default 60).
// Prints one JSON line per call, {"i", "ok": true, "userName", "fp"} or {"i", "ok": false,
// "error"}, then {"summary": true, "calls", "failures", "distinct", "rotations_seen",
// "timed_out"}. Exit 0 only if every call worked and every rotation came in time. Tokens are
// never printed: only their SHA-256, which the devstack's stats also record.
import { createHash } from "node:crypto";
import sdk from "@databricks/sdk-experimental";

const { WorkspaceClient } = sdk;
const [profile, rotationsArg, perArg, intervalArg] = process.argv.slice(2);
if (!profile || !rotationsArg) {
  console.error("usage: node sdk_live.mjs <profile> <rotations> [per_rotation_timeout_seconds] [interval_seconds]");
  process.exit(2);
}
const rotations = Number(rotationsArg);
const perRotation = Number(perArg ?? 60) * 1000;
const interval = Number(intervalArg ?? 0.3) * 1000;

async function bearerFingerprint(w) {
  const headers = new Headers();
  await w.config.authenticate(headers);
  const auth = headers.get("Authorization") ?? "";
  const token = auth.includes(" ") ? auth.split(" ", 2)[1] : auth;
  return createHash("sha256").update(token).digest("hex");
}

const w = new WorkspaceClient({ profile });
let calls = 0;
let failures = 0;
let timedOut = false;
const seen = [];
let waitingSince = Date.now();
while (seen.length < rotations + 1) {
  if (Date.now() - waitingSince > perRotation) {
    timedOut = true;
    break;
  }
  calls += 1;
  try {
    // The token held before and after the call: when they agree, the call carried it (a token
    // fetched after the call, at a rotation, was never sent, so it is not counted yet).
    const before = await bearerFingerprint(w);
    const me = await w.currentUser.me();
    const fp = await bearerFingerprint(w);
    if (fp !== before) {
      console.log(JSON.stringify({ i: calls, ok: true, userName: me.userName, rotating: true }));
      await new Promise((r) => setTimeout(r, interval));
      continue;
    }
    if (!seen.includes(fp)) {
      seen.push(fp);
      waitingSince = Date.now();
    }
    console.log(JSON.stringify({ i: calls, ok: true, userName: me.userName, fp }));
  } catch (e) {
    failures += 1;
    console.log(JSON.stringify({ i: calls, ok: false, error: `${e?.name}: ${e?.message}`.slice(0, 300) }));
  }
  await new Promise((r) => setTimeout(r, interval));
}
console.log(
  JSON.stringify({
    summary: true,
    calls,
    failures,
    distinct: seen.length,
    rotations_seen: Math.max(seen.length - 1, 0),
    timed_out: timedOut,
  }),
);
process.exit(failures === 0 && !timedOut ? 0 : 1);
