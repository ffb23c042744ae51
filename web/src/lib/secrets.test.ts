import { describe, expect, it } from "vitest";
import type { SecretView } from "@/generated/protocol";
import { ApiError } from "./api";
import { maskedValue, secretChoices, secretDescriptionProblem, secretError, secretNameProblem, secretValueProblem, splitSecrets, withoutSecret, withSecret } from "./secrets";

const at = "2026-01-01T00:00:00Z";
const secret = (name: string, system = false, extra: Partial<SecretView> = {}): SecretView => ({
  name,
  description: "",
  last4: null,
  system,
  overridden: false,
  created_at: at,
  updated_at: at,
  ...extra,
});

describe("secret names", () => {
  it("accepts what the backend's is_valid_name accepts", () => {
    for (const ok of ["A", "_", "GITHUB_TOKEN", "_X9", "K2", "A".repeat(128)]) expect(secretNameProblem(ok), ok).toBeNull();
  });

  it("explains every name it refuses", () => {
    expect(secretNameProblem("")).toBe("Give the secret a name.");
    expect(secretNameProblem("A".repeat(129))).toMatch(/at most 128/);
    for (const bad of ["github_token", "9LIVES", "MY-KEY", "MY KEY", "KEY.1", "ÄPFEL", "${X}"]) expect(secretNameProblem(bad), bad).toMatch(/capital letters/);
  });
});

describe("secret values and descriptions", () => {
  it("needs a value of at most 64 KiB (in UTF-8 bytes)", () => {
    expect(secretValueProblem("")).toMatch(/Enter/);
    expect(secretValueProblem("x".repeat(64 * 1024))).toBeNull();
    expect(secretValueProblem("x".repeat(64 * 1024 + 1))).toMatch(/64 KiB/);
    // 2 bytes each: 32 Ki characters are the most.
    expect(secretValueProblem("é".repeat(32 * 1024))).toBeNull();
    expect(secretValueProblem("é".repeat(32 * 1024 + 1))).toMatch(/64 KiB/);
  });

  it("allows a description of 500 characters", () => {
    expect(secretDescriptionProblem("d".repeat(500))).toBeNull();
    expect(secretDescriptionProblem("d".repeat(501))).toMatch(/500/);
  });
});

describe("the list", () => {
  it("shows at most the last four characters", () => {
    expect(maskedValue({ last4: "wxyz" })).toBe("••••wxyz");
    expect(maskedValue({ last4: null })).toBe("••••");
  });

  it("splits the user's own from the system's, each by name", () => {
    const { own, system } = splitSecrets([secret("B"), secret("Z", true), secret("A"), secret("C", true)]);
    expect(own.map((s) => s.name)).toEqual(["A", "B"]);
    expect(system.map((s) => s.name)).toEqual(["C", "Z"]);
  });

  it("offers each name once to a picker, the user's first", () => {
    const list = [secret("SHARED", true, { overridden: true }), secret("OPS", true), secret("SHARED"), secret("MINE")];
    expect(secretChoices(list)).toEqual([
      { name: "MINE", system: false },
      { name: "SHARED", system: false },
      { name: "OPS", system: true },
    ]);
  });

  it("keeps a system secret's overridden mark in step with the user's saves and deletes", () => {
    const list = [secret("TOKEN", true), secret("OTHER")];
    const saved = withSecret(list, secret("TOKEN", false, { last4: "abcd" }));
    expect(saved.filter((s) => s.name === "TOKEN")).toEqual([secret("TOKEN", true, { overridden: true }), secret("TOKEN", false, { last4: "abcd" })]);
    // Saving again replaces rather than adds.
    expect(withSecret(saved, secret("TOKEN", false, { last4: "efgh" })).filter((s) => !s.system && s.name === "TOKEN")).toHaveLength(1);
    const removed = withoutSecret(saved, "TOKEN");
    expect(removed.filter((s) => s.name === "TOKEN")).toEqual([secret("TOKEN", true, { overridden: false })]);
    expect(removed.some((s) => s.name === "OTHER")).toBe(true);
  });

  it("says what to do about a taken name; other refusals keep the server's sentence", () => {
    expect(secretError(new ApiError(409, "name_taken", "a secret named X exists"), "X")).toMatch(/already have a secret named X.*Replace value/);
    expect(secretError(new ApiError(422, "invalid_name", "bad name"), "x")).toBe("Bad name");
  });
});
