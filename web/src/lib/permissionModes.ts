// The CLI's permission modes in words, for every picker and summary.
import type { PermissionMode } from "@/generated/protocol";

/** The CLI's permission modes. The platform's default is `bypassPermissions` (the container is the
 * sandbox); `default` asks the user (a card in the conversation) before a tool that needs
 * permission, `plan` keeps the agent to read-only tools until the user approves its plan. */
export const PERMISSION_MODES: { value: PermissionMode; label: string }[] = [
  { value: "bypassPermissions", label: "Run tools freely (default)" },
  { value: "acceptEdits", label: "Accept edits only" },
  { value: "plan", label: "Plan first (approve the plan)" },
  { value: "default", label: "Ask before tools that need approval" },
];

/** A mode in words (its own name when unknown). */
export function permissionModeLabel(mode: PermissionMode): string {
  return PERMISSION_MODES.find((m) => m.value === mode)?.label ?? mode;
}
