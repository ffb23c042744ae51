import { describe, expect, it } from "vitest";
import type { AuthConfig, InviteView, Registration, TokenView, UserUsage } from "@/generated/protocol";
import { ApiError } from "./api";
import {
  authError,
  DEFAULT_SCOPES,
  formatCount,
  formatDay,
  formatUsage,
  formatWhen,
  inviteFor,
  inviteProblem,
  inviteRequest,
  inviteState,
  loginView,
  newPasswordProblem,
  providerHref,
  offeredScopes,
  roleLabel,
  scopeLabel,
  sortScopes,
  tokenExpiry,
  tokenLastUsed,
  tokenProblem,
  tokenRequest,
  withoutParams,
  withUser,
} from "./accounts";

const config = (registration: Registration, providers: AuthConfig["providers"] = [], first_account = false): AuthConfig => ({
  auth_mode: "password",
  registration,
  first_account,
  providers,
});

describe("the sign-in screen", () => {
  it("offers the Register tab only when registration is open", () => {
    expect(loginView(config("open"), "")).toMatchObject({ registerTab: true, note: null, initialMode: "login", invite: null });
    expect(loginView(config("invite"), "")).toMatchObject({ registerTab: false, note: "invite_only", initialMode: "login" });
    expect(loginView(config("closed"), "")).toMatchObject({ registerTab: false, note: null, initialMode: "login" });
  });

  it("registers with an invite whatever the policy, and opens on the Register tab", () => {
    for (const policy of ["open", "invite", "closed"] as const) {
      expect(loginView(config(policy), "?invite=abc123"), policy).toMatchObject({ registerTab: true, note: "invited", initialMode: "register", invite: "abc123" });
    }
    // Before the settings load too (the invite alone decides).
    expect(loginView(null, "?invite=abc123")).toMatchObject({ registerTab: true, note: "invited" });
  });

  it("offers to register the first account (the admin) whatever the policy", () => {
    for (const policy of ["open", "invite", "closed"] as const) {
      expect(loginView(config(policy, [], true), ""), policy).toMatchObject({ registerTab: true, note: "first_account", initialMode: "register" });
    }
  });

  it("carries an invite through a provider's sign-in", () => {
    expect(providerHref("/auth/oidc/start", null)).toBe("/auth/oidc/start");
    expect(providerHref("/auth/oidc/start", "a b&c")).toBe("/auth/oidc/start?invite=a%20b%26c");
  });

  it("offers no Register tab while the settings are unknown", () => {
    expect(loginView(null, "")).toMatchObject({ registerTab: false, note: null, initialMode: "login" });
  });

  it("opens the new-password form for a reset link, and shows a provider's error", () => {
    expect(loginView(config("closed"), "?reset=tok")).toMatchObject({ reset: "tok", initialMode: "reset" });
    // A reset link wins over an invite in the same address.
    expect(loginView(config("open"), "?reset=tok&invite=inv").initialMode).toBe("reset");
    expect(loginView(config("open"), "?error=sign-in%20was%20refused").error).toBe("sign-in was refused");
    expect(loginView(config("open"), new URLSearchParams({ error: "no" })).error).toBe("no");
  });

  it("ignores empty parameters", () => {
    expect(loginView(config("invite"), "?invite=&reset=%20&error=")).toMatchObject({ invite: null, reset: null, error: null, registerTab: false, note: "invite_only", initialMode: "login" });
  });

  it("drops a used parameter from the address", () => {
    expect(withoutParams("?reset=tok", ["reset"])).toBe("");
    expect(withoutParams("?reset=tok&invite=x", ["reset"])).toBe("?invite=x");
    expect(withoutParams("", ["reset"])).toBe("");
  });

  it("checks a new password's length and that both copies match", () => {
    expect(newPasswordProblem("short")).toMatch(/8 to 1024/);
    expect(newPasswordProblem("x".repeat(1025))).toMatch(/8 to 1024/);
    expect(newPasswordProblem("long enough")).toBeNull();
    expect(newPasswordProblem("long enough", "long enough")).toBeNull();
    expect(newPasswordProblem("long enough", "long enougH")).toBe("The two passwords do not match.");
    // Characters, not UTF-16 units or bytes.
    expect(newPasswordProblem("😀".repeat(8))).toBeNull();
    expect(newPasswordProblem("😀".repeat(7))).toMatch(/8 to 1024/);
  });

  it("says what to do about a taken address; other refusals keep the server's sentence", () => {
    expect(authError(new ApiError(409, "email_taken", "an account with this email already exists"))).toMatch(/already exists: sign in instead/);
    expect(authError(new ApiError(422, "weak_password", "the password must be 8 to 1024 characters"))).toBe("The password must be 8 to 1024 characters");
    expect(authError(new ApiError(403, "registration_closed", "registration needs an invite from an admin"))).toBe("Registration needs an invite from an admin");
  });
});

const token = (extra: Partial<TokenView> = {}): TokenView => ({
  id: "t1",
  name: "laptop",
  prefix: "wc_abcd",
  scopes: ["tasks:write"],
  created_at: "2026-01-01T00:00:00Z",
  expires_at: null,
  last_used_at: null,
  ...extra,
});

describe("API tokens", () => {
  it("offers the admin scope to admins only, and defaults to the three others", () => {
    expect(offeredScopes("member")).toEqual(["tasks:write", "sessions:read", "files:read"]);
    expect(offeredScopes("admin")).toEqual(["tasks:write", "sessions:read", "files:read", "admin"]);
    expect(DEFAULT_SCOPES).toEqual(["tasks:write", "sessions:read", "files:read"]);
  });

  it("labels every scope", () => {
    expect(scopeLabel("tasks:write")).toBe("Run tasks");
    expect(scopeLabel("sessions:read")).toBe("Read sessions");
    expect(scopeLabel("files:read")).toBe("Read files");
    expect(scopeLabel("admin")).toBe("Admin");
  });

  it("builds the request: trimmed name, scopes in order once each, no expiry for never", () => {
    expect(tokenRequest("  ci  ", null, ["files:read", "tasks:write", "files:read"])).toEqual({ name: "ci", scopes: ["tasks:write", "files:read"] });
    expect(tokenRequest("ci", 30, ["sessions:read"])).toEqual({ name: "ci", scopes: ["sessions:read"], expires_in_days: 30 });
    expect(sortScopes(["admin", "tasks:write"])).toEqual(["tasks:write", "admin"]);
  });

  it("needs a name of at most 100 characters and a scope", () => {
    expect(tokenProblem("  ", ["tasks:write"])).toMatch(/name/);
    expect(tokenProblem("x".repeat(101), ["tasks:write"])).toMatch(/100/);
    expect(tokenProblem("x".repeat(100), ["tasks:write"])).toBeNull();
    expect(tokenProblem("ci", [])).toMatch(/at least one scope/);
  });

  it("reads expiry and last use, never for null", () => {
    const now = new Date("2026-06-01T00:00:00Z");
    expect(tokenExpiry(token(), now)).toBe("never");
    expect(tokenExpiry(token({ expires_at: "2026-07-01T00:00:00Z" }), now)).toBe(formatWhen("2026-07-01T00:00:00Z"));
    expect(tokenExpiry(token({ expires_at: "2026-05-01T00:00:00Z" }), now)).toBe(`expired ${formatWhen("2026-05-01T00:00:00Z")}`);
    expect(tokenLastUsed(token())).toBe("never");
    expect(tokenLastUsed(token({ last_used_at: "2026-05-02T10:00:00Z" }))).toBe(formatWhen("2026-05-02T10:00:00Z"));
    expect(formatWhen("2026-05-02T10:00:00Z")).toMatch(/2026/);
    expect(formatWhen(null, "—")).toBe("—");
    expect(formatDay("2026-05-02T10:00:00Z")).toMatch(/2026/);
    expect(formatDay("2026-05-02T10:00:00Z")).not.toMatch(/10:00|:00/);
    expect(formatDay(null)).toBe("never");
  });
});

const usage = (extra: Partial<UserUsage> = {}): UserUsage => ({ runs: 0, failed_runs: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, last_run_at: null, ...extra });

describe("usage", () => {
  it("shortens token counts", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1000)).toBe("1k");
    expect(formatCount(1234)).toBe("1.2k");
    expect(formatCount(12_345)).toBe("12k");
    expect(formatCount(999_499)).toBe("999k");
    expect(formatCount(999_999)).toBe("1M");
    expect(formatCount(1_500_000)).toBe("1.5M");
    expect(formatCount(42_000_000)).toBe("42M");
    expect(formatCount(3_200_000_000)).toBe("3.2B");
  });

  it("reads a user's usage: counts, tokens in and out, cost in dollars, last run", () => {
    expect(formatUsage(usage())).toEqual({ runs: "0", failed: "0", tokens: "0 in / 0 out", cost: "$0.00", lastRun: "never" });
    const u = formatUsage(usage({ runs: 12, failed_runs: 2, input_tokens: 1_234_567, output_tokens: 8_900, cost_usd: 3.456, last_run_at: "2026-05-02T10:00:00Z" }));
    expect(u).toEqual({ runs: "12", failed: "2", tokens: "1.2M in / 8.9k out", cost: "$3.46", lastRun: formatWhen("2026-05-02T10:00:00Z") });
    expect(formatUsage(usage({ cost_usd: 0.0042 })).cost).toBe("$0.0042");
  });

  it("names roles and replaces a saved user in place", () => {
    expect(roleLabel("admin")).toBe("Admin");
    expect(roleLabel("member")).toBe("Member");
    const a = { id: "a", email: "a@x", role: "member" as const, disabled: false, created_at: "2026-01-01T00:00:00Z", usage: usage() };
    const b = { ...a, id: "b", email: "b@x" };
    expect(withUser([a, b], { ...b, disabled: true })).toEqual([a, { ...b, disabled: true }]);
  });
});

const invite = (extra: Partial<InviteView> = {}): InviteView => ({
  id: "i1",
  email: null,
  role: "member",
  created_at: "2026-05-01T00:00:00Z",
  expires_at: "2026-05-08T00:00:00Z",
  used_at: null,
  ...extra,
});

describe("invites", () => {
  const now = new Date("2026-05-03T00:00:00Z");

  it("is open, used or expired", () => {
    expect(inviteState(invite(), now)).toBe("open");
    expect(inviteState(invite({ used_at: "2026-05-02T00:00:00Z" }), now)).toBe("used");
    expect(inviteState(invite({ expires_at: "2026-05-02T00:00:00Z" }), now)).toBe("expired");
    // Used wins over expired.
    expect(inviteState(invite({ used_at: "2026-05-01T12:00:00Z", expires_at: "2026-05-02T00:00:00Z" }), now)).toBe("used");
  });

  it("is for an address or anyone", () => {
    expect(inviteFor(invite())).toBe("anyone");
    expect(inviteFor(invite({ email: "new@example.com" }))).toBe("new@example.com");
  });

  it("builds the request without an empty address and checks the days", () => {
    expect(inviteRequest("  ", "member", 7)).toEqual({ role: "member", expires_in_days: 7 });
    expect(inviteRequest(" new@example.com ", "admin", 30)).toEqual({ email: "new@example.com", role: "admin", expires_in_days: 30 });
    expect(inviteProblem(1)).toBeNull();
    expect(inviteProblem(366)).toBeNull();
    for (const bad of [0, 367, 1.5, Number.NaN]) expect(inviteProblem(bad), String(bad)).toMatch(/1 to 366/);
  });
});
