"use client";
import { useRouter } from "next/navigation";
import { Composer } from "@/components/Composer";

export default function Home() {
  const router = useRouter();
  return (
    <div className="home">
      <h1>New task</h1>
      <Composer onCreated={(res) => router.push(`/sessions/${res.session_id}`)} />
    </div>
  );
}
