"use client";
// The sidebar's project switcher: all sessions, one project's (the list below filters to it and
// new tasks go to it), or a new project. Hidden on a server without projects.
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useProjects } from "./ProjectsProvider";

/** Not a project id (those are UUIDs): the choice that opens the new-project form. */
const NEW_PROJECT = "__new__";

export function ProjectSwitcher({ onNavigate }: { onNavigate: () => void }) {
  const { projects, missing, error, chosenId, chosen, choose } = useProjects();
  const router = useRouter();
  const pathname = usePathname();
  const t = useTranslations("projects.switcher");
  if (missing) return null;
  if (projects === null) return error ? <p className="error small project-switcher">{t("error", { error })}</p> : null;
  return (
    <div className="project-switcher">
      <select
        value={chosenId ?? ""}
        onChange={(e) => {
          const v = e.target.value;
          if (v === NEW_PROJECT) {
            onNavigate();
            // On the projects page already, only the hash changes (which opens the form).
            if (pathname === "/projects") window.location.hash = "new";
            else router.push("/projects#new");
            return;
          }
          choose(v || null);
        }}
        aria-label={t("label")}
        data-testid="project-switcher"
        title={t("title")}
      >
        <option value="">{t("all")}</option>
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
        <option value={NEW_PROJECT}>{t("new")}</option>
      </select>
      {chosen && (
        <Link href={`/projects/${chosen.id}`} className="icon-button small" aria-label={t("open", { name: chosen.name })} title={t("openTitle")} onClick={onNavigate}>
          ⚙
        </Link>
      )}
    </div>
  );
}
