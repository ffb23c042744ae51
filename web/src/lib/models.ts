"use client";
// The model catalog (`GET /models`): what the composer's and a project's model pickers offer, and
// the prices a run's cost is estimated from when the CLI reported none (0: a model it has no prices
// for, such as one another provider serves). An estimate is always marked "≈".
import { useEffect, useState } from "react";
import type { ModelList, ModelView, Usage } from "@/generated/protocol";
import { english, type Translate } from "@/i18n/translate";
import enTools from "../../messages/en/tools.json";
import { api, ApiError } from "./api";

/** `modelDetails` and `modelOptions` take `t` (`useTranslations()`, keys under `tools.model`) and
 * answer in English without it. */
const ENGLISH = english({ tools: enTools });

export function listModels(): Promise<ModelList> {
  return api<ModelList>("/models");
}

// One catalog per page load: it is the deployment's configuration, not the user's data. A failed
// load is not kept, so the next picker asks again.
let cached: Promise<ModelList> | null = null;
/** The catalog once loaded, so a component mounted later (a conversation row scrolled into view)
 * has it at its first render. */
let loaded: ModelList | null = null;

/** The catalog, asked for once per page (`route_not_found` rejects: no catalog on this server). */
export function loadModels(): Promise<ModelList> {
  if (!cached) {
    cached = listModels();
    cached.then(
      (catalog) => {
        loaded = catalog;
      },
      () => {
        cached = null;
      },
    );
  }
  return cached;
}

type ModelsState = { catalog: ModelList | null; missing: boolean; failed: boolean };

/** The catalog for a component: `null` while loading or when this server has none (`missing`). */
export function useModels(): ModelsState {
  const [state, setState] = useState<ModelsState>(() => ({ catalog: loaded, missing: false, failed: false }));
  useEffect(() => {
    let alive = true;
    loadModels()
      // Already had at the first render: nothing changes.
      .then((catalog) => alive && setState((s) => (s.catalog === catalog ? s : { catalog, missing: false, failed: false })))
      .catch((e) => alive && setState({ catalog: null, missing: e instanceof ApiError && e.routeMissing, failed: true }));
    return () => {
      alive = false;
    };
  }, []);
  return state;
}

/** The token counts of a run (a `RunUsage` or a `result` event's `Usage`). */
export type TokenCounts = Pick<Usage, "input_tokens" | "output_tokens" | "cache_creation_input_tokens" | "cache_read_input_tokens">;

/** A model of the catalog by id. */
export function findModel(catalog: ModelList | null, id: string | null | undefined): ModelView | null {
  if (!catalog || !id) return null;
  return catalog.models.find((m) => m.id === id) ?? null;
}

/** A model's label for a picker's default option: its label when the catalog has it, else its id. */
export function modelLabel(catalog: ModelList | null, id: string | null | undefined): string | null {
  if (!id) return null;
  return findModel(catalog, id)?.label ?? id;
}

/**
 * The cost in US dollars of these tokens at the model's prices (per million tokens), or `null`
 * when a price the tokens need is unknown. A cache write or read without its own price is charged
 * at the input price (an upper bound: providers charge cache reads less), never left out.
 */
export function estimateCost(model: ModelView, tokens: TokenCounts): number | null {
  const input = model.input_price_per_mtok;
  const output = model.output_price_per_mtok;
  const parts: [number, number | null][] = [
    [tokens.input_tokens, input],
    [tokens.output_tokens, output],
    [tokens.cache_creation_input_tokens, model.cache_write_price_per_mtok ?? input],
    [tokens.cache_read_input_tokens, model.cache_read_price_per_mtok ?? input],
  ];
  let usd = 0;
  for (const [count, price] of parts) {
    if (count <= 0) continue;
    if (price === null || price === undefined || !Number.isFinite(price)) return null;
    usd += (count * price) / 1_000_000;
  }
  return usd;
}

/** A cost to show: what the CLI reported, or an estimate from the catalog (`estimated`). */
export interface Cost {
  usd: number;
  estimated: boolean;
}

/**
 * What a run cost, by the backend's rule (`crates/backend/src/models.rs`, `Catalog::price`): the
 * reported cost when there is one (more than 0) and the model is not a provider's of its own
 * (the CLI prices every model at Anthropic's rates), else the estimate from the prices of the
 * run's model (its own, else the catalog's default) when the catalog knows them, else the
 * reported figure. `alreadyEstimated`: the figure is the backend's estimate (a run view's
 * `usage.estimated`), shown as it is.
 */
export function runCost(
  reportedUsd: number,
  tokens: TokenCounts,
  model: string | null | undefined,
  catalog: ModelList | null,
  alreadyEstimated = false,
): Cost {
  if (alreadyEstimated) return { usd: reportedUsd, estimated: true };
  if (!catalog) return { usd: reportedUsd, estimated: false };
  const view = findModel(catalog, model || catalog.default_model);
  const routed = view !== undefined && view !== null && view.provider !== "anthropic";
  if (reportedUsd > 0 && !routed) return { usd: reportedUsd, estimated: false };
  const estimate = view ? estimateCost(view, tokens) : null;
  return estimate !== null && estimate > 0 ? { usd: estimate, estimated: true } : { usd: reportedUsd, estimated: false };
}

/** The sum of several runs' costs: estimated when any part is. */
export function addCosts(costs: Cost[]): Cost {
  return costs.reduce((sum, c) => ({ usd: sum.usd + c.usd, estimated: sum.estimated || c.estimated }), { usd: 0, estimated: false });
}

export function formatCost(usd: number): string {
  return `$${usd < 0.01 && usd > 0 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

/** A cost in words; an estimate reads "≈ $0.0123". */
export function formatRunCost(cost: Cost): string {
  return cost.estimated ? `≈ ${formatCost(cost.usd)}` : formatCost(cost.usd);
}

/** A model's prices and context in one line ("200k context · $3 in / $15 out per million tokens"). */
export function modelDetails(model: ModelView, t: Translate = ENGLISH): string {
  const parts: string[] = [model.id];
  if (model.context_window) parts.push(t("tools.model.context", { size: formatContext(model.context_window) }));
  if (model.input_price_per_mtok !== null && model.output_price_per_mtok !== null) {
    parts.push(t("tools.model.prices", { input: price(model.input_price_per_mtok), output: price(model.output_price_per_mtok) }));
  }
  if (model.provider !== "anthropic") parts.push(t("tools.model.via", { provider: model.provider }));
  return parts.join(" · ");
}

function formatContext(tokens: number): string {
  return tokens >= 1_000_000 ? `${+(tokens / 1_000_000).toFixed(1)}M` : tokens >= 1000 ? `${Math.round(tokens / 1000)}k` : String(tokens);
}

function price(usd: number): string {
  return String(+usd.toFixed(4));
}

/**
 * The options of a model picker: the catalog's models, and `current` first when the catalog does
 * not have it (a preset's or project's model set before the catalog changed), so it is never
 * silently replaced.
 */
export function modelOptions(catalog: ModelList, current: string, t: Translate = ENGLISH): { id: string; label: string; known: boolean }[] {
  const options = catalog.models.map((m) => ({ id: m.id, label: m.label || m.id, known: true }));
  if (current && !options.some((o) => o.id === current)) options.unshift({ id: current, label: t("tools.model.notInCatalog", { model: current }), known: false });
  return options;
}
