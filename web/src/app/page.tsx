"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { Composer } from "@/components/Composer";
import { useProjects } from "@/components/ProjectsProvider";

export default function Home() {
  const router = useRouter();
  const { chosen, chosenId } = useProjects();
  return (
    <div className="home">
      <h1>New task</h1>
      {chosen && (
        <p className="muted small project-note" data-testid="composer-project">
          In the project <Link href={`/projects/${chosen.id}`}>{chosen.name}</Link>: its defaults fill what you leave out, its instructions and files reach every
          run.
        </p>
      )}
      <Composer projectId={chosenId} project={chosen} onCreated={(res) => router.push(`/sessions/${res.session_id}`)} />
    </div>
  );
}
