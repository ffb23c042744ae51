// The CLI's permission modes in words, for every picker and summary.
import type { PermissionMode } from "@/generated/protocol";

/** The CLI's permission modes. The platform's default is `bypassPermissions` (the container is the
 * sandbox and nobody can answer a prompt mid-run); `plan` keeps the agent to read-only tools. */
export const PERMISSION_MODES: { value: PermissionMode; label: string }[] = [
  { value: "bypassPermissions", label: "Run tools freely (default)" },
  { value: "acceptEdits", label: "Accept edits only" },
  { value: "plan", label: "Plan only (read-only)" },
  { value: "default", label: "Ask (tools needing approval are denied)" },
];

/** A mode in words (its own name when unknown). */
export function permissionModeLabel(mode: PermissionMode): string {
  return PERMISSION_MODES.find((m) => m.value === mode)?.label ?? mode;
}
