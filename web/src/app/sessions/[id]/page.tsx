"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import type { CancelResponse, CreateTaskResponse } from "@/generated/protocol";
import { api, readableError } from "@/lib/api";
import { buildItems, latestTodos } from "@/lib/conversation";
import { isTerminalEvent, tabTitle } from "@/lib/inputRequests";
import { useSession } from "@/lib/useSession";
import { Composer } from "@/components/Composer";
import { Conversation } from "@/components/Conversation";
import { FilesPanel } from "@/components/FilesPanel";
import { QueueStrip } from "@/components/QueueStrip";
import { formatTokens } from "@/components/ItemRow";
import { CostText } from "@/components/Cost";
import { useProjects } from "@/components/ProjectsProvider";
import { addCosts, runCost, useModels, type Cost } from "@/lib/models";
import { isActive, StatusBadge } from "@/components/StatusBadge";
import { Todos } from "@/components/Todos";

export default function SessionPage() {
  const params = useParams<{ id: string }>();
  const id = params.id;
  const { detail, log, error, reload, setError, closed } = useSession(id);
  const [tab, setTab] = useState<"chat" | "files">("chat");
  const [canceling, setCanceling] = useState(false);

  const runs = useMemo(() => detail?.runs ?? [], [detail]);
  const items = useMemo(() => buildItems(runs, log.events, closed), [runs, log.events, closed]);
  const todos = useMemo(() => latestTodos(log.events), [log.events]);
  const pending = useMemo(() => items.filter((i) => i.kind === "input" && i.card.status === "pending").length, [items]);
  // The queue changes when the session is re-read (a follow-up queued, a status change) or a run ends.
  const runsEnded = useMemo(() => log.events.filter(isTerminalEvent).length, [log.events]);
  const queueVersion = useMemo(() => [detail, runsEnded], [detail, runsEnded]);

  // The tab's title: the session's, with the count of requests waiting for an answer.
  useEffect(() => {
    document.title = tabTitle(detail?.title, pending);
  }, [detail?.title, pending]);
  useEffect(
    () => () => {
      document.title = tabTitle(null, 0);
    },
    [],
  );
  const { catalog } = useModels();
  const totals = useMemo(() => {
    let tokensIn = 0;
    let tokensOut = 0;
    const costs: Cost[] = [];
    for (const r of runs) {
      if (!r.usage) continue;
      tokensIn += r.usage.input_tokens + r.usage.cache_read_input_tokens + r.usage.cache_creation_input_tokens;
      tokensOut += r.usage.output_tokens;
      // Each run at its own model's prices when the CLI reported no cost.
      costs.push(runCost(r.usage.total_cost_usd, r.usage, r.model, catalog, r.usage.estimated));
    }
    return { tokensIn, tokensOut, cost: addCosts(costs) };
  }, [runs, catalog]);
  const { projects } = useProjects();
  const project = detail?.project_id ? (projects?.find((p) => p.id === detail.project_id) ?? null) : null;
  const active = detail ? isActive(detail.status) || runs.some((r) => isActive(r.status)) : false;
  const current = runs.length ? [...runs].sort((a, b) => b.created_at.localeCompare(a.created_at))[0] : undefined;

  const cancel = async () => {
    setCanceling(true);
    try {
      await api<CancelResponse>(`/sessions/${id}/cancel`, { method: "POST" });
      await reload();
    } catch (e) {
      setError(readableError(e));
    } finally {
      setCanceling(false);
    }
  };

  const retry = async (runId: string) => {
    try {
      await api(`/runs/${runId}/retry`, { method: "POST" });
      await reload();
    } catch (e) {
      setError(readableError(e));
    }
  };

  return (
    <div className="session">
      <div className="session-head">
        <h1 className="session-name" title={detail?.title}>
          {detail?.title ?? "…"}
        </h1>
        {detail && <StatusBadge status={detail.status} />}
        <span className="muted small" data-testid="usage">
          {formatTokens(totals.tokensIn)} in · {formatTokens(totals.tokensOut)} out · <CostText cost={totals.cost} />
        </span>
        {project && (
          <Link href={`/projects/${project.id}`} className="badge badge-project" data-testid="session-project" title="The session's project">
            {project.name}
          </Link>
        )}
        <span className="spacer" />
        {active && (
          <button className="button danger" onClick={() => void cancel()} disabled={canceling || detail?.status === "canceling"} data-testid="cancel">
            {canceling || detail?.status === "canceling" ? "Canceling…" : "Cancel"}
          </button>
        )}
      </div>
      <div className="tabs" role="tablist">
        <button role="tab" aria-selected={tab === "chat"} className={tab === "chat" ? "active" : ""} onClick={() => setTab("chat")}>
          Conversation
        </button>
        <button role="tab" aria-selected={tab === "files"} className={tab === "files" ? "active" : ""} onClick={() => setTab("files")} data-testid="files-tab">
          Files
        </button>
      </div>
      {error && (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      {tab === "chat" ? (
        <>
          {todos && todos.length > 0 && (
            <div className="todo-panel">
              <Todos todos={todos} />
            </div>
          )}
          <Conversation items={items} onRetry={(r) => void retry(r)} />
          <QueueStrip sessionId={id} version={queueVersion} onChanged={() => void reload()} />
          <Composer
            sessionId={id}
            busy={active}
            sessionCapabilities={current?.capabilities ?? null}
            onCreated={(_res: CreateTaskResponse) => void reload()}
          />
        </>
      ) : (
        <FilesPanel runs={runs} events={log.events} initialRun={current?.id ?? null} />
      )}
    </div>
  );
}
