"use client";
import Link from "next/link";
import { useParams, useSearchParams } from "next/navigation";
import { useFormatter, useTranslations } from "next-intl";
import { useCallback, useEffect, useMemo, useState } from "react";
import type { CancelResponse, CreateTaskResponse } from "@/generated/protocol";
import { api } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { buildItems, latestTodos } from "@/lib/conversation";
import { isTerminalEvent, tabTitle } from "@/lib/inputRequests";
import { useSession } from "@/lib/useSession";
import { Composer } from "@/components/Composer";
import { Conversation, type FocusRequest } from "@/components/Conversation";
import { jumpTarget, locate } from "@/components/search/locate";
import { FilesPanel } from "@/components/FilesPanel";
import { QueueStrip } from "@/components/QueueStrip";
import { CostText } from "@/components/Cost";
import { useProjects } from "@/components/ProjectsProvider";
import { addCosts, runCost, useModels, type Cost } from "@/lib/models";
import { isActive, StatusBadge } from "@/components/StatusBadge";
import { Todos } from "@/components/Todos";

export default function SessionPage() {
  const params = useParams<{ id: string }>();
  const id = params.id;
  const { detail, log, error, reload, setError, closed } = useSession(id);
  const t = useTranslations("session");
  const format = useFormatter();
  const readableError = useReadableError();
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
  // The session's usage: every run's tokens and cost, added up.
  const totals = useMemo(() => {
    let input = 0;
    let output = 0;
    let cacheRead = 0;
    let cacheWrite = 0;
    const costs: Cost[] = [];
    for (const r of runs) {
      if (!r.usage) continue;
      input += r.usage.input_tokens;
      output += r.usage.output_tokens;
      cacheRead += r.usage.cache_read_input_tokens;
      cacheWrite += r.usage.cache_creation_input_tokens;
      // Each run at its own model's prices when the CLI reported no cost.
      costs.push(runCost(r.usage.total_cost_usd, r.usage, r.model, catalog, r.usage.estimated));
    }
    return { input, output, cacheRead, cacheWrite, cost: addCosts(costs) };
  }, [runs, catalog]);
  const compact = (n: number) => format.number(n, { notation: "compact", maximumFractionDigits: 1 });
  const exact = (n: number) => format.number(n);

  // Opened at a search hit (`?seq=N`, `?run=…`): scroll to its row once the history holding it is
  // loaded (it is read oldest first), and light it up.
  const searchParams = useSearchParams();
  const target = useMemo(() => jumpTarget(searchParams), [searchParams]);
  const targetId = target ? `${id}:${"seq" in target ? `seq=${target.seq}` : `run=${target.run}`}` : null;
  const [jumped, setJumped] = useState<string | null>(null);
  // The log stopped growing while the target was awaited (`targetId` then).
  const [settled, setSettled] = useState<string | null>(null);
  const located = useMemo(() => {
    if (!target || targetId === jumped) return null;
    const l = locate(items, log.events, log.contiguous, target);
    if (!("run" in target) || typeof l !== "object") return l;
    // A prompt's row is in its place once the run's events are (before them it is listed last),
    // or once the history has stopped coming (a run without events yet).
    return settled === targetId || log.events.some((e) => e.run_id === target.run) ? l : "pending";
  }, [target, targetId, jumped, settled, items, log.events, log.contiguous]);
  const focus = useMemo<FocusRequest | null>(
    () => (located && typeof located === "object" && targetId ? { key: located.key, id: targetId } : null),
    [located, targetId],
  );
  const onFocused = useCallback((done: string) => setJumped(done), []);
  const pendingJump = located === "pending";
  useEffect(() => {
    if (!pendingJump) return;
    const timer = setTimeout(() => setSettled(targetId), 3000);
    return () => clearTimeout(timer);
  }, [pendingJump, targetId, log.version, detail]);
  // Held at the top while the history is still coming; an event that never comes (a link past
  // the end, a run that is gone) lets go once the log has stopped growing.
  const waiting = pendingJump && settled !== targetId;
  const jumpMissing = targetId !== null && targetId !== jumped && (located === "missing" || (pendingJump && settled === targetId));
  // The conversation tab shows the hit.
  useEffect(() => {
    if (targetId) setTab("chat");
  }, [targetId]);
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
        <span
          className="muted small"
          data-testid="usage"
          title={t("head.usageTitle", {
            input: exact(totals.input),
            output: exact(totals.output),
            cacheRead: exact(totals.cacheRead),
            cacheWrite: exact(totals.cacheWrite),
          })}
        >
          {t("head.usage", { input: compact(totals.input), output: compact(totals.output), cache: compact(totals.cacheRead + totals.cacheWrite) })} ·{" "}
          <CostText cost={totals.cost} />
        </span>
        {project && (
          <Link href={`/projects/${project.id}`} className="badge badge-project" data-testid="session-project" title={t("head.project")}>
            {project.name}
          </Link>
        )}
        <span className="spacer" />
        {active && (
          <button className="button danger" onClick={() => void cancel()} disabled={canceling || detail?.status === "canceling"} data-testid="cancel">
            {canceling || detail?.status === "canceling" ? t("head.canceling") : t("head.cancel")}
          </button>
        )}
      </div>
      <div className="tabs" role="tablist">
        <button role="tab" aria-selected={tab === "chat"} className={tab === "chat" ? "active" : ""} onClick={() => setTab("chat")}>
          {t("tabs.conversation")}
        </button>
        <button role="tab" aria-selected={tab === "files"} className={tab === "files" ? "active" : ""} onClick={() => setTab("files")} data-testid="files-tab">
          {t("tabs.files")}
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
          {waiting && (
            <p className="jump-note delayed muted small" role="status" data-testid="jump-loading">
              {t("jump.loading")}
            </p>
          )}
          {jumpMissing && (
            <p className="jump-note muted small" role="status" data-testid="jump-missing">
              {t("jump.missing")}
            </p>
          )}
          <Conversation items={items} onRetry={(r) => void retry(r)} focus={focus} hold={waiting} onFocused={onFocused} />
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
