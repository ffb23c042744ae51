// One WebSocket per tab for live updates. It reconnects with exponential back-off (and jitter)
// and, once the server says `ready`, re-subscribes every session with the sequence number its view
// last rendered, so nothing is missed or repeated across a reconnect.
import type { ClientMessage, Event, ServerMessage, SessionView } from "@/generated/protocol";
import { wsUrl } from "./wsUrl";

export type LiveState = "connecting" | "open" | "reconnecting" | "unauthorized";

interface Subscription {
  /** The last `seq` the view holds without a gap (read at each (re)subscribe). */
  after: () => number;
  onEvents: (events: Event[]) => void;
  onError?: (message: string) => void;
}

/** A session changed or went. `local`: told by this tab (a view that re-read it), not the server. */
type SessionListener = (change: { updated?: SessionView; deleted?: string; local?: boolean }) => void;

const CLOSE_UNAUTHORIZED = 4401;

export class LiveConnection {
  private socket: WebSocket | null = null;
  private state: LiveState = "connecting";
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly subs = new Map<string, Subscription>();
  private readonly stateListeners = new Set<(s: LiveState) => void>();
  private readonly sessionListeners = new Set<SessionListener>();
  /** Live events are delivered once per animation frame, in batches. */
  private pending = new Map<string, Event[]>();
  private flushScheduled = false;

  constructor(private readonly url: string) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close(1000, "page closed");
    this.socket = null;
  }

  get current(): LiveState {
    return this.state;
  }

  onState(fn: (s: LiveState) => void): () => void {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  onSessions(fn: SessionListener): () => void {
    this.sessionListeners.add(fn);
    return () => this.sessionListeners.delete(fn);
  }

  /** Hands a session this tab has just re-read to every listener (e.g. the session list), as if
   * the server had announced it. */
  publishSession(session: SessionView): void {
    for (const fn of this.sessionListeners) fn({ updated: session, local: true });
  }

  subscribe(sessionId: string, sub: Subscription): () => void {
    this.subs.set(sessionId, sub);
    if (this.state === "open") this.send({ type: "subscribe", session_id: sessionId, after: sub.after() });
    return () => {
      if (this.subs.get(sessionId) === sub) {
        this.subs.delete(sessionId);
        if (this.state === "open") this.send({ type: "unsubscribe", session_id: sessionId });
      }
    };
  }

  /** Re-subscribes a session from its view's current cursor (e.g. after a gap was noticed). */
  resubscribe(sessionId: string): void {
    const sub = this.subs.get(sessionId);
    if (sub && this.state === "open") this.send({ type: "subscribe", session_id: sessionId, after: sub.after() });
  }

  private setState(s: LiveState): void {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  private send(msg: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  private connect(): void {
    if (this.stopped) return;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onmessage = (m) => {
      if (typeof m.data !== "string") return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(m.data) as ServerMessage;
      } catch {
        return;
      }
      this.handle(msg);
    };
    socket.onclose = (c) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (c.code === CLOSE_UNAUTHORIZED) {
        this.setState("unauthorized");
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    this.setState("reconnecting");
    const base = Math.min(10_000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private handle(msg: ServerMessage): void {
    switch (msg.type) {
      case "ready":
        this.attempt = 0;
        this.setState("open");
        for (const [id, sub] of this.subs) this.send({ type: "subscribe", session_id: id, after: sub.after() });
        break;
      case "event": {
        const list = this.pending.get(msg.session_id) ?? [];
        list.push(msg.event);
        this.pending.set(msg.session_id, list);
        this.scheduleFlush();
        break;
      }
      case "session_updated":
        for (const fn of this.sessionListeners) fn({ updated: msg.session });
        break;
      case "session_deleted":
        for (const fn of this.sessionListeners) fn({ deleted: msg.session_id });
        break;
      case "error":
        if (msg.session_id) this.subs.get(msg.session_id)?.onError?.(msg.message);
        break;
      case "subscribed":
        break;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      const batches = this.pending;
      this.pending = new Map();
      for (const [id, events] of batches) this.subs.get(id)?.onEvents(events);
    };
    if (typeof requestAnimationFrame === "function" && document.visibilityState === "visible") {
      requestAnimationFrame(run);
    } else {
      setTimeout(run, 16);
    }
  }
}

let shared: LiveConnection | null = null;

/** The tab's connection, created on first use. */
export function liveConnection(): LiveConnection {
  if (!shared) {
    shared = new LiveConnection(wsUrl(window.location, process.env.NEXT_PUBLIC_WS_URL));
    shared.start();
  }
  return shared;
}
