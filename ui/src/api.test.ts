import { callBackend, caller, type DashboardCall } from "./api";

/** A backend over a recording `invoke` that answers `answer`. */
function recorded(answer: unknown = null) {
  const sent: { cmd: string; args: { call: DashboardCall } }[] = [];
  const invoke = (cmd: "call", args: { call: DashboardCall }) => {
    sent.push({ cmd, args });
    return Promise.resolve(answer);
  };
  const b = callBackend(caller(invoke), { onView: () => {}, onEvents: () => {} });
  return { b, sent };
}

describe("the Tauri backend", () => {
  it("sends every call through the one `call` command, tagged with its Rust name", async () => {
    const { b, sent } = recorded();
    await b.setActive("dev");
    await b.saveWorkspace("qa", { idp: "corp", host: "https://qa", scopes: [], token: null, client_id: null, profile: null }, true);
    await b.launch("codex", "dev");
    await b.setAutostart(false);
    await b.tryLocally();
    expect(sent).toEqual([
      { cmd: "call", args: { call: { call: "set_active", name: "dev" } } },
      {
        cmd: "call",
        args: {
          call: {
            call: "save_workspace",
            name: "qa",
            workspace: { idp: "corp", host: "https://qa", scopes: [], token: null, client_id: null, profile: null },
            replace: true,
          },
        },
      },
      { cmd: "call", args: { call: { call: "launch", agent: "codex", workspace: "dev" } } },
      { cmd: "call", args: { call: { call: "set_autostart", enabled: false } } },
      { cmd: "call", args: { call: { call: "try_locally" } } },
    ]);
  });

  it("hands back the call's answer as it came", async () => {
    const { b, sent } = recorded("https://adb-1.2.azuredatabricks.net");
    expect(await b.workspaceHost("https://adb-1.2.azuredatabricks.net/browse?o=1")).toBe("https://adb-1.2.azuredatabricks.net");
    expect(sent[0].args.call).toEqual({ call: "workspace_host", url: "https://adb-1.2.azuredatabricks.net/browse?o=1" });
  });
});
