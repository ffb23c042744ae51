"use client";
// The secret holding a repository's token (`git.token_secret`), picked by name from the user's
// secrets and the system's. Values never reach the page: only names are listed. Hidden on a server
// without secrets.
import Link from "next/link";
import { useEffect, useState } from "react";
import { ApiError } from "@/lib/api";
import { listSecrets, secretChoices } from "@/lib/secrets";

/** The secret names a picker offers, loaded while `enabled`; `missing` on a server without them. */
export function useSecretChoices(enabled = true) {
  const [state, setState] = useState<{ choices: { name: string; system: boolean }[] | null; missing: boolean }>({ choices: null, missing: false });
  useEffect(() => {
    if (!enabled) return;
    let alive = true;
    listSecrets()
      .then((list) => alive && setState({ choices: secretChoices(list), missing: false }))
      // Another failure offers no names; the field still shows a value already set.
      .catch((e) => alive && setState({ choices: [], missing: e instanceof ApiError && e.routeMissing }));
    return () => {
      alive = false;
    };
  }, [enabled]);
  return state;
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
  return (
    <label>
      <span>
        Repository token <Link href="/secrets" className="small">Manage secrets</Link>
      </span>
      <select value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled} data-testid={testId} aria-label="Repository token">
        <option value="">None (a public repository)</option>
        {value && !known && choices !== null && <option value={value}>{value} (no such secret)</option>}
        {value && choices === null && <option value={value}>{value}</option>}
        {(choices ?? []).map((c) => (
          <option key={c.name} value={c.name}>
            {c.name}
            {c.system ? " (system)" : ""}
          </option>
        ))}
      </select>
    </label>
  );
}
