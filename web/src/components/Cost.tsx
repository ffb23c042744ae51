"use client";
// A run's cost: what the CLI reported, or when it reported none, the estimate from the run's model's
// prices in the catalog, marked "≈".
import { useTranslations } from "next-intl";
import type { Cost as CostValue, TokenCounts } from "@/lib/models";
import { formatRunCost, runCost, useModels } from "@/lib/models";

/** The cost of one run (`model`: the run's, `null` for the catalog's default). */
export function RunCost({ reported, tokens, model, estimated = false }: { reported: number; tokens: TokenCounts; model: string | null; estimated?: boolean }) {
  const { catalog } = useModels();
  return <CostText cost={runCost(reported, tokens, model, catalog, estimated)} />;
}

export function CostText({ cost }: { cost: CostValue }) {
  const t = useTranslations("tools.cost");
  return (
    <span
      className={cost.estimated ? "cost-estimated" : undefined}
      data-testid="cost"
      data-estimated={cost.estimated ? "true" : undefined}
      title={cost.estimated ? t("estimated") : undefined}
    >
      {formatRunCost(cost)}
    </span>
  );
}
