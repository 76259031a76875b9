import { ago, countdown, mcpLabel, stateLabel, stateTone, timeLeftCoarse, words } from "./format";

describe("countdown", () => {
  it("counts minutes and seconds, then hours", () => {
    expect(countdown(1000 + 52 * 60 + 7, 1000)).toBe("52:07");
    expect(countdown(1000 + 3723, 1000)).toBe("1:02:03");
    expect(countdown(1000 + 5, 1000)).toBe("0:05");
  });
  it("says expired, and dashes without a token", () => {
    expect(countdown(999, 1000)).toBe("expired");
    expect(countdown(null, 1000)).toBe("--:--");
  });
});

describe("state labels", () => {
  it("covers every engine state", () => {
    expect(stateLabel("fresh", 2000, 1000)).toBe("Fresh");
    expect(stateLabel("expiring", 2000, 1000)).toBe("Renewing soon");
    expect(stateLabel("expiring", null, 1000)).toBe("Waiting for a token");
    expect(stateLabel("refreshing", 2000, 1000)).toBe("Refreshing…");
    expect(stateLabel("failed", 2000, 1000)).toBe("Refresh failing");
    expect(stateLabel("failed", 900, 1000)).toBe("Expired — refresh failing");
    expect(stateLabel("needs_login", null, 1000)).toBe("Sign-in needed");
  });
  it("tones: expired is bad whatever the state", () => {
    expect(stateTone("fresh", 2000, 1000)).toBe("ok");
    expect(stateTone("refreshing", 2000, 1000)).toBe("busy");
    expect(stateTone("refreshing", 900, 1000)).toBe("bad");
    expect(stateTone("needs_login", null, 1000)).toBe("off");
  });
});

describe("misc", () => {
  it("ago", () => {
    expect(ago(1000, 1010)).toBe("just now");
    expect(ago(1000, 1000 + 180)).toBe("3 min ago");
    expect(ago(1000, 1000 + 7300)).toBe("2 h ago");
  });
  it("words", () => {
    expect(words(" sql, serving  files.files ")).toEqual(["sql", "serving", "files.files"]);
  });
});

describe("managed-MCP token words", () => {
  it("says time left coarsely, as the tray menu does", () => {
    expect(timeLeftCoarse(1000 + 52 * 60 + 10, 1000)).toBe("52 min");
    expect(timeLeftCoarse(1000 + 3600 + 5 * 60, 1000)).toBe("1 h 05 min");
    expect(timeLeftCoarse(1030, 1000)).toBe("<1 min");
    expect(timeLeftCoarse(1000, 1000)).toBe("expired");
  });
  it("puts the engine's state first", () => {
    expect(mcpLabel({ state: "fresh", expires_at: 1000 + 600 }, 1000)).toBe("10 min left");
    expect(mcpLabel({ state: "expiring", expires_at: null }, 1000)).toBe("none yet, made on first use");
    expect(mcpLabel({ state: "expiring", expires_at: 999 }, 1000)).toBe("expired, renewed on next use");
    expect(mcpLabel({ state: "failed", expires_at: 1000 + 600 }, 1000)).toBe("exchange failed");
    expect(mcpLabel({ state: "needs_login", expires_at: null }, 1000)).toBe("sign-in needed");
  });
});
