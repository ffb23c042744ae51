"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { Composer } from "@/components/Composer";
import { useProjects } from "@/components/ProjectsProvider";

export default function Home() {
  const router = useRouter();
  const { chosen, chosenId } = useProjects();
  const t = useTranslations("composer.home");
  return (
    <div className="home">
      <h1>{t("title")}</h1>
      {chosen && (
        <p className="muted small project-note" data-testid="composer-project">
          {t.rich("inProject", { name: chosen.name, link: (chunks) => <Link href={`/projects/${chosen.id}`}>{chunks}</Link> })}
        </p>
      )}
      <Composer projectId={chosenId} project={chosen} onCreated={(res) => router.push(`/sessions/${res.session_id}`)} />
    </div>
  );
}
