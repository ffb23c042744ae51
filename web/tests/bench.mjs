// Benchmark of the web UI against the real stack (run through tests/e2e/stack.sh):
//  1. submit → first streamed token on screen, with the scripted model (first run, then warm runs),
//     then follow-ups in one session (the CLI kept across its runs);
//  2. first-load JavaScript of the pages (bytes over the wire and decoded);
//  3. a 5,000-event session: time to render it after a reload, rows in the DOM, frame times while
//     scrolling through it.
// Prints figures; asserts nothing about them.
import { launch, register, WEB_URL } from "./browser.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 6);
const LLM_URL = process.env.LLM_URL;
const MANY = Number(process.env.BENCH_EVENTS ?? 5000);
const PAUSE = Number(process.env.BENCH_PAUSE_MS ?? 3000);

const context = await launch();
const page = await context.newPage();
await register(page);

// 1. Submit → first token, and where a new session's time goes: the moments the browser sees
// (wall clock, this machine's: the page's and this process's clocks are the same clock).
//   created   the POST /tasks answer arrives
//   page      the session's page is navigated to (client-side)
//   history   its REST history (GET …/events) has arrived
//   subscribed the WebSocket's subscribe for the session is sent
//   frame     the first assistant-text event arrives over the WebSocket
//   screen    its row is on screen
const latencies = [];
const phases = [];
let marks = {};
page.on("response", (r) => {
  const path = new URL(r.url()).pathname;
  if (r.request().method() === "POST" && path === "/api/v1/tasks") marks.created ??= Date.now();
  if (/^\/api\/v1\/sessions\/[^/]+\/events$/.test(path)) marks.history ??= Date.now();
});
page.on("framenavigated", (f) => {
  if (f === page.mainFrame() && f.url().includes("/sessions/")) marks.page ??= Date.now();
});
page.on("websocket", (ws) => {
  ws.on("framesent", (f) => {
    if (typeof f.payload === "string" && f.payload.includes('"subscribe"')) marks.subscribed ??= Date.now();
  });
  ws.on("framereceived", (f) => {
    if (typeof f.payload === "string" && f.payload.includes('"type":"event"') && f.payload.includes('"assistant_text"'))
      marks.frame ??= Date.now();
  });
});
for (let i = 0; i < RUNS; i++) {
  await page.goto(WEB_URL);
  await page.getByTestId("prompt").fill(`[scenario:web_first_token] run ${i}`);
  marks = {};
  // The moment the row is on screen is taken in the page (the frame it is painted in): a
  // locator's wait polls at growing intervals (up to 500 ms apart), which would be measured too.
  await page.evaluate(() => {
    window.__firstText = null;
    const row = () => document.querySelector('[data-testid="conversation"] [data-kind="text"]');
    const seen = new MutationObserver(() => {
      if (!row()) return;
      seen.disconnect();
      requestAnimationFrame(() => (window.__firstText = performance.timeOrigin + performance.now()));
    });
    seen.observe(document.body, { childList: true, subtree: true });
  });
  const t0 = await page.evaluate(() => performance.timeOrigin + performance.now());
  await page.getByTestId("submit").click();
  await page.getByTestId("conversation").locator('[data-kind="text"]').first().waitFor({ timeout: 120_000 });
  await page.waitForFunction(() => window.__firstText !== null);
  const t1 = await page.evaluate(() => window.__firstText);
  latencies.push(t1 - t0);
  phases.push({ t0, ...Object.fromEntries(["created", "page", "history", "subscribed", "frame"].map((k) => [k, marks[k] ? marks[k] - t0 : NaN])) });
  await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: 120_000 });
}
const warm = latencies.slice(1).sort((a, b) => a - b);
const median = (xs) => xs[Math.floor(xs.length / 2)];
console.log(`submit → first token on screen: first run ${latencies[0].toFixed(0)} ms; warm runs (n=${warm.length}) median ${median(warm).toFixed(0)} ms, min ${warm[0].toFixed(0)} ms, max ${warm[warm.length - 1].toFixed(0)} ms`);
{
  // The scripted model's record: when each run's turn (the conversation's request, told by its
  // prompt) reached the model, and the requests the CLI made on the side before it.
  if (LLM_URL) {
    const recorded = await (await fetch(`${LLM_URL}/_admin/requests`)).json();
    const requests = Array.isArray(recorded) ? recorded : (recorded.requests ?? []);
    phases.forEach((p, i) => {
      const prompt = new RegExp(`\\] run ${i}(?!\\d)`);
      const turn = requests.find((r) => r.kind === "turn" && prompt.test(JSON.stringify(r.body ?? "")));
      p.model = turn ? Date.parse(turn.time) - p.t0 : NaN;
      p.side = requests.filter((r) => r.kind !== "turn" && Date.parse(r.time) >= p.t0 && Date.parse(r.time) <= p.t0 + p.frame).length;
    });
    console.log(`side requests to the model between submit and the first text, per run: ${phases.map((p) => p.side).join(", ")}`);
  }
  const at = (k) => median(phases.slice(1).map((p) => p[k]).sort((a, b) => a - b));
  const parts = ["created", "page", "history", "subscribed", "model", "frame"].map((k) => `${k} ${at(k).toFixed(0)}`);
  console.log(`new session, ms after submit (median of the warm runs): ${parts.join(", ")}, screen ${median(warm).toFixed(0)}`);
}

// 1b. Follow-ups in the session of the last run: submit → the follow-up's first token on screen.
// Spaced like a person's messages (BENCH_PAUSE_MS, default 3 s, after the previous run ended:
// its workspace is exported and its executor parked meanwhile): the executor keeps the session's
// CLI alive between runs (docs/ARCHITECTURE.md, "The CLI started ahead").
const followUps = [];
{
  const conversation = page.getByTestId("conversation");
  const followUp = page.getByRole("form", { name: "Follow-up message" });
  // The list is virtualized: rows are told apart by their index, not counted, and the check
  // keeps the list at its bottom so the newest rows are rendered.
  const newRow = ([last, kind]) => {
    const list = document.querySelector('[data-testid="conversation"]');
    list.scrollTop = list.scrollHeight;
    return [...list.querySelectorAll("[data-index]")].some(
      (e) => Number(e.dataset.index) > last && e.querySelector(`[data-kind="${kind}"]`),
    );
  };
  for (let i = 0; i < RUNS; i++) {
    await page.waitForTimeout(PAUSE);
    const last = await conversation
      .locator("[data-index]")
      .evaluateAll((els) => Math.max(-1, ...els.map((e) => Number(e.dataset.index))));
    await followUp.getByTestId("prompt").fill(`[scenario:web_first_token] follow-up ${i}`);
    const t0 = await page.evaluate(() => performance.timeOrigin + performance.now());
    await followUp.getByTestId("submit").click();
    await page.waitForFunction(newRow, [last, "text"], { timeout: 120_000 });
    const t1 = await page.evaluate(() => performance.timeOrigin + performance.now());
    followUps.push(t1 - t0);
    await page.waitForFunction(newRow, [last, "end"], { timeout: 120_000 });
  }
  const sorted = [...followUps].sort((a, b) => a - b);
  console.log(`follow-up submit → first token on screen (n=${sorted.length}): median ${median(sorted).toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`);
}

// 2. First-load JavaScript: a fresh context (empty cache) loading each page.
for (const path of ["/login", "/"]) {
  const fresh = await context.browser()?.newContext?.();
  const p = fresh ? await fresh.newPage() : await context.newPage();
  if (!fresh) await p.context().clearCookies();
  await p.goto(`${WEB_URL}${path}`, { waitUntil: "networkidle" });
  const js = await p.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((e) => e.initiatorType === "script" || e.name.endsWith(".js"))
      .reduce((acc, e) => ({ n: acc.n + 1, wire: acc.wire + e.encodedBodySize, raw: acc.raw + e.decodedBodySize }), { n: 0, wire: 0, raw: 0 }),
  );
  console.log(`first-load JS for ${path}: ${js.n} files, ${(js.wire / 1024).toFixed(1)} KiB over the wire, ${(js.raw / 1024).toFixed(1)} KiB decoded`);
  await p.close();
}

// 3. A long session.
if (LLM_URL) {
  const current = await (await fetch(`${LLM_URL}/_admin/scenarios`)).json();
  const blocks = Array.from({ length: MANY }, (_, i) => ({ type: "text", text: `Line ${i + 1} of the long answer.` }));
  current.scenarios.web_many = { turns: [{ blocks }] };
  const put = await fetch(`${LLM_URL}/_admin/scenarios`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(current) });
  if (!put.ok) throw new Error(`cannot add the long scenario: ${put.status} ${await put.text()}`);
  await page.goto(WEB_URL);
  await page.getByTestId("prompt").fill("[scenario:web_many] a very long answer");
  const t0 = Date.now();
  await page.getByTestId("submit").click();
  await page.locator('.session-head [data-status="completed"], .session-head [data-status="failed"]').waitFor({ timeout: 600_000 });
  const live = Date.now() - t0;
  const id = page.url().split("/sessions/")[1];
  const count = await page.evaluate(async (sid) => {
    let after = 0;
    let n = 0;
    for (;;) {
      const r = await (await fetch(`/api/v1/sessions/${sid}/events?after=${after}&limit=1000`)).json();
      n += r.events.length;
      after = r.next_after;
      if (!r.has_more) break;
    }
    return n;
  }, id);
  const r0 = Date.now();
  await page.reload();
  await page.getByTestId("conversation").getByText("Run completed").waitFor({ timeout: 120_000 });
  const reload = Date.now() - r0;
  const rows = await page.getByTestId("conversation").locator("[data-key]").count();
  const frames = await page.evaluate(async () => {
    const el = document.querySelector('[data-testid="conversation"]');
    const times = [];
    let last = performance.now();
    for (let i = 0; i <= 60; i++) {
      el.scrollTop = (el.scrollHeight * i) / 60;
      await new Promise((r) => requestAnimationFrame(() => r()));
      const now = performance.now();
      times.push(now - last);
      last = now;
    }
    times.sort((a, b) => a - b);
    return { median: times[30], p95: times[57], max: times[60] };
  });
  console.log(`long session: ${count} events; live run to completed ${(live / 1000).toFixed(1)} s; reload → fully rendered ${reload} ms; ${rows} rows in the DOM; scroll frame times median ${frames.median.toFixed(1)} ms, p95 ${frames.p95.toFixed(1)} ms, max ${frames.max.toFixed(1)} ms`);
}
await context.close();
