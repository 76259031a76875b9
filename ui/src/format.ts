// Pure formatting: countdowns, state labels, times. Unit tested.
import type { TokenState } from "./types";

/** "52:07", "1:02:03", or "expired": a live countdown to `expiresAt` (unix seconds). */
export function countdown(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return "--:--";
  const left = Math.floor(expiresAt - now);
  if (left <= 0) return "expired";
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, "0");
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** What a state is called on a card. */
export function stateLabel(state: TokenState, expiresAt: number | null, now: number): string {
  const expired = expiresAt !== null && expiresAt <= now;
  switch (state) {
    case "fresh":
      return expired ? "Expired" : "Fresh";
    case "expiring":
      return expiresAt === null ? "Waiting for a token" : expired ? "Expired" : "Renewing soon";
    case "refreshing":
      return "Refreshing…";
    case "failed":
      return expired ? "Expired — refresh failing" : "Refresh failing";
    case "needs_login":
      return "Sign-in needed";
  }
}

/** The colour family of a state: ok, busy, bad, off. */
export function stateTone(state: TokenState, expiresAt: number | null, now: number): "ok" | "busy" | "bad" | "off" {
  if (state === "needs_login") return "off";
  if (state === "failed" || (expiresAt !== null && expiresAt <= now)) return "bad";
  if (state === "fresh") return "ok";
  return "busy";
}

/** "52 min", "1 h 05 min", "<1 min", "expired": coarse time left, as the tray menu says it. */
export function timeLeftCoarse(expiresAt: number, now: number): string {
  const left = Math.floor(expiresAt - now);
  if (left <= 0) return "expired";
  if (left < 60) return "<1 min";
  if (left < 3600) return `${Math.floor(left / 60)} min`;
  return `${Math.floor(left / 3600)} h ${String(Math.floor((left % 3600) / 60)).padStart(2, "0")} min`;
}

/** How a managed-MCP token stands, after "MCP: sql · ": the engine's state in words. */
export function mcpLabel(m: { state: TokenState; expires_at: number | null }, now: number): string {
  if (m.state === "needs_login") return "sign-in needed";
  if (m.state === "failed") return "exchange failed";
  if (m.expires_at === null) return "none yet, made on first use";
  if (m.expires_at <= now) return "expired, renewed on next use";
  return `${timeLeftCoarse(m.expires_at, now)} left`;
}

/** "14:32" local time for a unix time. */
export function clockTime(unix: number): string {
  const d = new Date(unix * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** "just now", "3 min ago", "2 h ago", else the clock time. */
export function ago(unix: number, now: number): string {
  const d = Math.max(0, Math.floor(now - unix));
  if (d < 30) return "just now";
  if (d < 3600) return `${Math.max(1, Math.round(d / 60))} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return clockTime(unix);
}

/** Space- or comma-separated words → list. */
export function words(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter((w) => w.length > 0);
}
