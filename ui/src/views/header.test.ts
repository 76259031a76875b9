import { banners, header } from "./header";
import { byTestId, recorder, sampleIdp, sampleView } from "./testdata";

describe("header view", () => {
  it("offers Refresh now once an IdP is signed in", () => {
    const { on, calls } = recorder<{ refresh(): void }>(["refresh"]);
    const b = byTestId(header(sampleView(), false, on), "refresh-now") as HTMLButtonElement;
    expect(b.textContent).toBe("Refresh now");
    expect(b.disabled).toBe(false);
    b.click();
    expect(calls).toEqual([["refresh"]]);
  });

  it("disables it while refreshing or when nobody is signed in", () => {
    const { on } = recorder<{ refresh(): void }>(["refresh"]);
    const busy = byTestId(header(sampleView(), true, on), "refresh-now") as HTMLButtonElement;
    expect(busy.textContent).toBe("Refreshing…");
    expect(busy.disabled).toBe(true);
    const out = byTestId(header(sampleView({ idps: [sampleIdp({ signed_in: false })] }), false, on), "refresh-now") as HTMLButtonElement;
    expect(out.disabled).toBe(true);
  });
});

describe("banners view", () => {
  it("is empty when all is well", () => {
    const { on } = recorder<{ dismiss(): void }>(["dismiss"]);
    const box = banners(sampleView(), null, on);
    expect(box.children).toHaveLength(0);
    expect(box.hasAttribute("aria-label")).toBe(false);
    expect(banners(sampleView(), { tone: "ok", text: "Saved dev." }, on).getAttribute("aria-label")).toBe("Messages");
  });

  it("shows a process-wide warning prominently", () => {
    const { on } = recorder<{ dismiss(): void }>(["dismiss"]);
    const el = banners(sampleView({ warnings: [{ kind: "live_service", message: "port 8731 is in use" }] }), null, on);
    const w = byTestId(el, "warning");
    // Not a live region: the page re-renders, and the controller says it once (announce.ts).
    expect(w.hasAttribute("role")).toBe(false);
    expect(w.textContent).toContain("-live profiles were removed");
    expect(w.textContent).toContain("port 8731 is in use");
  });

  it("leads a warning of another kind with the general sentence", () => {
    const { on } = recorder<{ dismiss(): void }>(["dismiss"]);
    const el = banners(sampleView({ warnings: [{ kind: "vault", message: "the keyring is locked" }] }), null, on);
    const w = byTestId(el, "warning");
    expect(w.textContent).toContain("Lakepass has a problem.");
    expect(w.textContent).not.toContain("-live profiles");
  });

  it("shows a config problem and the file-vault warning", () => {
    const { on } = recorder<{ dismiss(): void }>(["dismiss"]);
    const el = banners(
      sampleView({ config_error: "no Lakepass config at /x", vault_fallback: "no Secret Service", vault: "/home/u/.lakepass/vault" }),
      null,
      on,
    );
    const config = byTestId(el, "config-error");
    expect(config.hasAttribute("role")).toBe(false);
    expect(config.textContent).toBe("Lakepass is not set up yet. no Lakepass config at /x");
    const warn = el.querySelector(".banner.warn")!;
    expect(warn.textContent).toContain("unavailable (no Secret Service)");
    expect(warn.textContent).toContain("kept in /home/u/.lakepass/vault");
  });

  it("shows the notice with its tone and a dismiss button", () => {
    const { on, calls } = recorder<{ dismiss(): void }>(["dismiss"]);
    const ok = byTestId(banners(sampleView(), { tone: "ok", text: "Saved dev." }, on), "notice");
    expect(ok.className).toBe("banner ok");
    expect(ok.hasAttribute("role")).toBe(false);
    expect(ok.textContent).toBe("Saved dev.×");
    const bad = byTestId(banners(sampleView(), { tone: "bad", text: "no network" }, on), "notice");
    expect(bad.hasAttribute("role")).toBe(false);
    // An error says so in a word, not only in red.
    expect(bad.textContent).toBe("Error: no network×");
    bad.querySelector<HTMLButtonElement>('[aria-label="Dismiss"]')!.click();
    expect(calls).toEqual([["dismiss"]]);
  });
});
