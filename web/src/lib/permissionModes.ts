// The CLI's permission modes in words, for every picker and summary.
import type { PermissionMode } from "@/generated/protocol";
import { english, type Translate } from "@/i18n/translate";
import enCommon from "../../messages/en/common.json";

/** The CLI's permission modes. The platform's default is `bypassPermissions` (the container is the
 * sandbox); `default` asks the user (a card in the conversation) before a tool that needs
 * permission, `plan` keeps the agent to read-only tools until the user approves its plan. Their
 * words are `common.permissionModes.*`. */
export const PERMISSION_MODES: { value: PermissionMode }[] = [{ value: "bypassPermissions" }, { value: "acceptEdits" }, { value: "plan" }, { value: "default" }];

const ENGLISH = english({ common: enCommon });

/** A mode in words (its own name when unknown); `t`: `useTranslations()`, else English. */
export function permissionModeLabel(mode: PermissionMode, t: Translate = ENGLISH): string {
  return PERMISSION_MODES.some((m) => m.value === mode) ? t(`common.permissionModes.${mode}`) : mode;
}
