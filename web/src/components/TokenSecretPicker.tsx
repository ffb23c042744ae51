"use client";
// The secret holding a repository's token (`git.token_secret`), picked by name from the user's
// secrets and the system's. Values never reach the page: only names are listed. Hidden on a server
// without secrets.
import Link from "next/link";
import { useMemo } from "react";
import { useTranslations } from "next-intl";
import { queryKeys } from "@/lib/query/keys";
import { useCachedList } from "@/lib/query/useCachedList";
import { listSecrets, secretChoices } from "@/lib/secrets";

/** The secret names a picker offers, loaded while `enabled`; `missing` on a server without them. */
export function useSecretChoices(enabled = true) {
  // The Secrets screen's cached list: a secret saved there is offered here at once.
  const { items, missing, error } = useCachedList(queryKeys.secrets.list(), listSecrets, { enabled });
  // Another failure offers no names; the field still shows a value already set.
  const failed = missing || error !== null;
  const choices = useMemo(() => (items ? secretChoices(items) : failed ? [] : null), [items, failed]);
  return { choices, missing };
}

export function TokenSecretPicker({
  value,
  onChange,
  choices,
  disabled,
  testId,
}: {
  value: string;
  onChange: (name: string) => void;
  choices: { name: string; system: boolean }[] | null;
  disabled?: boolean;
  testId?: string;
}) {
  const known = choices?.some((c) => c.name === value) ?? false;
  const t = useTranslations("tools.tokenSecret");
  return (
    <label>
      <span>
        {t("label")}{" "}
        <Link href="/secrets" className="small">
          {t("manage")}
        </Link>
      </span>
      <select value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled} data-testid={testId} aria-label={t("label")}>
        <option value="">{t("none")}</option>
        {value && !known && choices !== null && <option value={value}>{t("unknown", { name: value })}</option>}
        {value && choices === null && <option value={value}>{value}</option>}
        {(choices ?? []).map((c) => (
          <option key={c.name} value={c.name}>
            {c.name}
            {c.system ? t("system") : ""}
          </option>
        ))}
      </select>
    </label>
  );
}
