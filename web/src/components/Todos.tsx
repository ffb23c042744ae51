import { useTranslations } from "next-intl";
import type { TodoItem } from "@/generated/protocol";

export function Todos({ todos }: { todos: TodoItem[] }) {
  const t = useTranslations("tools.todos");
  const done = todos.filter((x) => x.status === "completed").length;
  return (
    <div className="todos" data-kind="todos">
      <div className="todos-head">
        {t("title", { done, total: todos.length })}
        <progress value={done} max={Math.max(1, todos.length)} aria-label={t("progress")} />
      </div>
      <ul>
        {todos.map((t, i) => (
          <li key={i} className={`todo todo-${t.status}`}>
            <span aria-hidden>{t.status === "completed" ? "☑" : t.status === "in_progress" ? "◐" : "☐"}</span>{" "}
            {t.status === "in_progress" && t.active_form ? t.active_form : t.content}
          </li>
        ))}
      </ul>
    </div>
  );
}
