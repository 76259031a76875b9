import { checkIdp, checkWorkspace, fieldOf, requiredProblem } from "./validate";

const ctx = { names: ["dev"], idps: ["corp"], editing: false };
const base = { name: "staging", idp: "corp", host: "https://staging.cloud.databricks.com/", scopes: "all-apis", token: "id_token", client_id: "", profile: "" };

describe("workspace form", () => {
  it("accepts a good workspace and trims it", () => {
    const r = checkWorkspace(base, ctx);
    expect(r.problems).toEqual({});
    expect(r.form).toEqual({
      idp: "corp",
      host: "https://staging.cloud.databricks.com/",
      scopes: ["all-apis"],
      token: "id_token",
      client_id: null,
      profile: null,
    });
  });
  it("names each missing or taken field", () => {
    const r = checkWorkspace({ ...base, name: "dev", host: " ", idp: "nope" }, ctx);
    expect(r.form).toBeNull();
    expect(Object.keys(r.problems).sort()).toEqual(["host", "idp", "name"]);
    expect(r.problems.name).toContain("already exists");
    expect(r.problems.host).toContain("Enter");
  });
  it("allows editing an existing name", () => {
    expect(checkWorkspace({ ...base, name: "dev", host: "http://127.0.0.1:8401" }, { ...ctx, editing: true }).problems).toEqual({});
  });
  it("leaves what a valid name or URL is to the core", () => {
    // The backend validates and names the field; the dashboard keeps no copy of the rules.
    const r = checkWorkspace({ ...base, name: "my ws", host: "https://adb-1.azuredatabricks.net/?o=1#x" }, ctx);
    expect(r.problems).toEqual({});
    expect(r.form?.host).toBe("https://adb-1.azuredatabricks.net/?o=1#x");
  });
});

describe("idp form", () => {
  it("keeps the issuer exactly as typed (a trailing slash matters)", () => {
    const r = checkIdp(
      { name: "corp2", issuer: "https://login.example.com/", client_id: " abc ", scopes: "openid offline_access", redirect_port: "" },
      { names: ["corp"], editing: false },
    );
    expect(r.form).toEqual({ issuer: "https://login.example.com/", client_id: "abc", scopes: ["openid", "offline_access"], redirect_port: null });
  });
  it("checks client id and port", () => {
    const r = checkIdp({ name: "x", issuer: "https://a.b", client_id: "", scopes: "", redirect_port: "70000" }, { names: [], editing: false });
    expect(Object.keys(r.problems).sort()).toEqual(["client_id", "redirect_port"]);
  });
});

describe("helpers", () => {
  it("requiredProblem", () => {
    expect(requiredProblem("", "issuer URL")).toContain("Enter the issuer URL");
    expect(requiredProblem("  ", "x")).toContain("Enter");
    expect(requiredProblem("https://a.b", "x")).toBeNull();
  });
  it("fieldOf maps backend fields to form fields", () => {
    expect(fieldOf("workspace.dev.host")).toBe("host");
    expect(fieldOf("token")).toBe("token");
    expect(fieldOf(null)).toBeNull();
  });
});
