import type { RunStatus, SessionStatus } from "@/generated/protocol";

const ACTIVE = new Set(["queued", "claimed", "running", "canceling"]);

export function isActive(status: RunStatus | SessionStatus): boolean {
  return ACTIVE.has(status);
}

export function StatusBadge({ status }: { status: RunStatus | SessionStatus }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {isActive(status) && status !== "queued" && <span className="pulse" aria-hidden />}
      {status}
    </span>
  );
}
