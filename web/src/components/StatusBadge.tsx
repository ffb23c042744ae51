import { useTranslations } from "next-intl";
import type { RunStatus, SessionStatus } from "@/generated/protocol";

const ACTIVE = new Set(["queued", "claimed", "running", "canceling"]);

export function isActive(status: RunStatus | SessionStatus): boolean {
  return ACTIVE.has(status);
}

/** A status in words (its own name when this build does not know it). */
export function useStatusLabel(): (status: string) => string {
  const t = useTranslations("tools.status");
  return (status) => (t.has(status) ? t(status) : status);
}

export function StatusBadge({ status }: { status: RunStatus | SessionStatus }) {
  const label = useStatusLabel();
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {isActive(status) && status !== "queued" && <span className="pulse" aria-hidden />}
      {label(status)}
    </span>
  );
}
