// Every message of the UI, by locale and namespace. A namespace is one JSON file per language in
// web/messages/<locale>/<namespace>.json, imported here; `catalog.test.ts` fails when a file,
// a key or a placeholder exists in one language only, or a file is not listed here.
//
// To add a namespace: write messages/en/<ns>.json and messages/zh/<ns>.json, then add one line
// to each of the two objects below.
import type { Locale } from "./locale";

import enCommon from "../../messages/en/common.json";
import zhCommon from "../../messages/zh/common.json";
import enErrors from "../../messages/en/errors.json";
import zhErrors from "../../messages/zh/errors.json";
import enLogin from "../../messages/en/login.json";
import zhLogin from "../../messages/zh/login.json";
import enAccount from "../../messages/en/account.json";
import zhAccount from "../../messages/zh/account.json";
import enAdmin from "../../messages/en/admin.json";
import zhAdmin from "../../messages/zh/admin.json";
import enProjects from "../../messages/en/projects.json";
import zhProjects from "../../messages/zh/projects.json";
import enSecrets from "../../messages/en/secrets.json";
import zhSecrets from "../../messages/zh/secrets.json";
import enSchedules from "../../messages/en/schedules.json";
import zhSchedules from "../../messages/zh/schedules.json";
import enCapabilities from "../../messages/en/capabilities.json";
import zhCapabilities from "../../messages/zh/capabilities.json";
import enComposer from "../../messages/en/composer.json";
import zhComposer from "../../messages/zh/composer.json";
import enInputs from "../../messages/en/inputs.json";
import zhInputs from "../../messages/zh/inputs.json";
import enTools from "../../messages/en/tools.json";
import zhTools from "../../messages/zh/tools.json";
import enFiles from "../../messages/en/files.json";
import zhFiles from "../../messages/zh/files.json";
import enSessions from "../../messages/en/sessions.json";
import zhSessions from "../../messages/zh/sessions.json";
import enSession from "../../messages/en/session.json";
import zhSession from "../../messages/zh/session.json";
import enSearch from "../../messages/en/search.json";
import zhSearch from "../../messages/zh/search.json";
import enUsage from "../../messages/en/usage.json";
import zhUsage from "../../messages/zh/usage.json";

export type Messages = Record<string, Record<string, unknown>>;

export const CATALOG: Record<Locale, Messages> = {
  en: {
    sessions: enSessions,
    common: enCommon,
    session: enSession,
    search: enSearch,
    usage: enUsage,
    errors: enErrors,
    login: enLogin,
    account: enAccount,
    admin: enAdmin,
    projects: enProjects,
    secrets: enSecrets,
    schedules: enSchedules,
    capabilities: enCapabilities,
    composer: enComposer,
    inputs: enInputs,
    tools: enTools,
    files: enFiles,
  },
  zh: {
    sessions: zhSessions,
    common: zhCommon,
    session: zhSession,
    search: zhSearch,
    usage: zhUsage,
    errors: zhErrors,
    login: zhLogin,
    account: zhAccount,
    admin: zhAdmin,
    projects: zhProjects,
    secrets: zhSecrets,
    schedules: zhSchedules,
    capabilities: zhCapabilities,
    composer: zhComposer,
    inputs: zhInputs,
    tools: zhTools,
    files: zhFiles,
  },
};

export function messagesFor(locale: Locale): Messages {
  return CATALOG[locale];
}
