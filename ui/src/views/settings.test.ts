import { settings, type SettingsActions } from "./settings";
import { byTestId, recorder, sampleView } from "./testdata";

describe("settings view", () => {
  it("shows the autostart toggle, the config path and where secrets are", () => {
    const { on } = recorder<SettingsActions>(["setAutostart"]);
    const el = settings(sampleView(), true, on);
    expect(el.getAttribute("aria-label")).toBe("Settings");
    expect((byTestId(el, "autostart") as HTMLInputElement).checked).toBe(true);
    expect(el.textContent).toContain("Config: /home/u/.config/lakepass/config.toml");
    expect(el.textContent).toContain("Secrets: OS keyring (service lakepass)");
    const off = settings(sampleView({ vault: "" }), false, on);
    expect((byTestId(off, "autostart") as HTMLInputElement).checked).toBe(false);
    expect(off.textContent).toContain("Secrets: —");
  });

  it("calls back with the toggle's new state", () => {
    const { on, calls } = recorder<SettingsActions>(["setAutostart"]);
    const box = byTestId(settings(sampleView(), false, on), "autostart") as HTMLInputElement;
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    box.checked = false;
    box.dispatchEvent(new Event("change"));
    expect(calls).toEqual([
      ["setAutostart", true],
      ["setAutostart", false],
    ]);
  });
});
