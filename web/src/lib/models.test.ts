import { describe, expect, it } from "vitest";
import type { ModelList, ModelView } from "@/generated/protocol";
import { addCosts, estimateCost, formatCost, formatRunCost, modelDetails, modelLabel, modelOptions, runCost } from "./models";

const sonnet: ModelView = {
  id: "claude-sonnet-4-5",
  label: "Claude Sonnet 4.5",
  provider: "anthropic",
  context_window: 200_000,
  input_price_per_mtok: 3,
  output_price_per_mtok: 15,
  cache_write_price_per_mtok: 3.75,
  cache_read_price_per_mtok: 0.3,
};
const local: ModelView = {
  id: "acme/coder-7b",
  label: "Acme Coder",
  provider: "acme",
  context_window: null,
  input_price_per_mtok: 0.5,
  output_price_per_mtok: 1.5,
  cache_write_price_per_mtok: null,
  cache_read_price_per_mtok: null,
};
const unpriced: ModelView = { ...local, id: "free/model", label: "free/model", input_price_per_mtok: null, output_price_per_mtok: null };
const catalog: ModelList = { models: [sonnet, local, unpriced], default_model: "claude-sonnet-4-5" };
const tokens = (input: number, output: number, write = 0, read = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: write,
  cache_read_input_tokens: read,
});

describe("the cost estimate", () => {
  it("charges each kind of token at its price per million", () => {
    // 1M input at $3, 200k output at $15, 100k cache writes at $3.75, 2M cache reads at $0.30.
    expect(estimateCost(sonnet, tokens(1_000_000, 200_000, 100_000, 2_000_000))).toBeCloseTo(3 + 3 + 0.375 + 0.6, 10);
    expect(estimateCost(sonnet, tokens(0, 0))).toBe(0);
  });

  it("charges cache tokens without their own price at the input price", () => {
    expect(estimateCost(local, tokens(1000, 1000, 1000, 1000))).toBeCloseTo((1000 * 0.5 * 3 + 1000 * 1.5) / 1e6, 12);
  });

  it("gives no estimate when a price the tokens need is unknown", () => {
    expect(estimateCost(unpriced, tokens(10, 10))).toBeNull();
    // No tokens of that kind: its missing price does not matter.
    expect(estimateCost({ ...sonnet, output_price_per_mtok: null }, tokens(1_000_000, 0))).toBe(3);
  });
});

describe("a run's cost", () => {
  it("keeps a reported cost as it is for the Anthropic models", () => {
    expect(runCost(0.42, tokens(1_000_000, 0), "claude-sonnet-4-5", catalog)).toEqual({ usd: 0.42, estimated: false });
    expect(runCost(0.42, tokens(1_000_000, 0), "not-in-catalog", catalog)).toEqual({ usd: 0.42, estimated: false });
  });

  it("prices a provider's model from the catalog even when the CLI reported a cost (at Anthropic's rates)", () => {
    expect(runCost(0.42, tokens(1_000_000, 0), "acme/coder-7b", catalog)).toEqual({ usd: 0.5, estimated: true });
  });

  it("shows the backend's estimate as an estimate", () => {
    expect(runCost(1.25, tokens(1, 1), "claude-sonnet-4-5", catalog, true)).toEqual({ usd: 1.25, estimated: true });
    expect(runCost(1.25, tokens(1, 1), null, null, true)).toEqual({ usd: 1.25, estimated: true });
  });

  it("estimates from the run's model when the CLI reported none", () => {
    expect(runCost(0, tokens(2_000_000, 1_000_000), "acme/coder-7b", catalog)).toEqual({ usd: 2.5, estimated: true });
  });

  it("uses the catalog's default model for a run that named none", () => {
    expect(runCost(0, tokens(1_000_000, 0), null, catalog)).toEqual({ usd: 3, estimated: true });
  });

  it("shows the reported 0 without a catalog, a known model, its prices, or tokens", () => {
    const zero = { usd: 0, estimated: false };
    expect(runCost(0, tokens(1000, 1000), "acme/coder-7b", null)).toEqual(zero);
    expect(runCost(0, tokens(1000, 1000), "not-in-catalog", catalog)).toEqual(zero);
    expect(runCost(0, tokens(1000, 1000), "free/model", catalog)).toEqual(zero);
    expect(runCost(0, tokens(0, 0), "acme/coder-7b", catalog)).toEqual(zero);
    expect(runCost(0, tokens(1000, 0), null, { models: [sonnet], default_model: null })).toEqual(zero);
  });

  it("adds runs' costs; the total is an estimate when any part is", () => {
    expect(addCosts([])).toEqual({ usd: 0, estimated: false });
    expect(addCosts([{ usd: 0.5, estimated: false }, { usd: 0.25, estimated: false }])).toEqual({ usd: 0.75, estimated: false });
    expect(addCosts([{ usd: 0.5, estimated: false }, { usd: 0.25, estimated: true }])).toEqual({ usd: 0.75, estimated: true });
  });

  it("marks an estimate with ≈", () => {
    expect(formatCost(1.5)).toBe("$1.50");
    expect(formatCost(0.00123)).toBe("$0.0012");
    expect(formatCost(0)).toBe("$0.00");
    expect(formatRunCost({ usd: 0.00123, estimated: true })).toBe("≈ $0.0012");
    expect(formatRunCost({ usd: 2, estimated: false })).toBe("$2.00");
  });
});

describe("the model picker", () => {
  it("offers the catalog's models, and a current model the catalog lacks first", () => {
    expect(modelOptions(catalog, "").map((o) => o.id)).toEqual(["claude-sonnet-4-5", "acme/coder-7b", "free/model"]);
    expect(modelOptions(catalog, "acme/coder-7b").map((o) => o.id)).toEqual(["claude-sonnet-4-5", "acme/coder-7b", "free/model"]);
    const withOld = modelOptions(catalog, "claude-old");
    expect(withOld[0]).toEqual({ id: "claude-old", label: "claude-old (not in the catalog)", known: false });
    expect(withOld).toHaveLength(4);
  });

  it("names models by label, falling back to the id", () => {
    expect(modelLabel(catalog, "claude-sonnet-4-5")).toBe("Claude Sonnet 4.5");
    expect(modelLabel(catalog, "gone")).toBe("gone");
    expect(modelLabel(null, "x")).toBe("x");
    expect(modelLabel(catalog, null)).toBeNull();
  });

  it("describes a model's context, prices and provider in a line", () => {
    expect(modelDetails(sonnet)).toBe("claude-sonnet-4-5 · 200k context · $3 in / $15 out per million tokens");
    expect(modelDetails(local)).toBe("acme/coder-7b · $0.5 in / $1.5 out per million tokens · via acme");
    expect(modelDetails({ ...unpriced, context_window: 1_000_000 })).toBe("free/model · 1M context · via acme");
  });
});
