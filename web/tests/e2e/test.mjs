// End to end through the real stack (started by stack.sh): register → submit a task → the
// streamed answer and the Bash tool call appear → the produced file in Files (when this server has
// the files route) → cancel a long task → reload during a run: nothing twice, nothing missing →
// a permission, a question and a plan card answered from the page → queued follow-ups edited and
// deleted in their strip → a slash command and a preset made in the Capabilities screen, and a
// task run with them → a secret added (its value nowhere afterwards), the model picker from the
// catalog, projects (a task in the chosen one listed under it and not under another), an API token
// made and revoked on the Account page.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import { launch, register, screenshot, submitTask, WEB_URL, ARTIFACTS } from "../browser.mjs";

const LONG = 120_000;
const failures = [];

async function step(name, fn) {
  const start = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    failures.push(name);
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
    await screenshot(page, "FAILED").catch(() => {});
    const alerts = await page.getByRole("alert").allInnerTexts().catch(() => []);
    if (alerts.length) console.log(`  alerts on the page: ${alerts.join(" | ")}`);
    throw e;
  }
}

/** Whether a probe's answer says the server has no such route (by its error code, never its message). */
function routeMissing(probe) {
  if (probe.status !== 404) return false;
  try {
    return JSON.parse(probe.body)?.error?.code === "route_not_found";
  } catch {
    return false;
  }
}

/** An HTTP request from a chosen local address (fetch cannot bind one). */
function nodeRequest(url, { method = "GET", localAddress, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress, headers }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A WebSocket handshake with `origin` (none when undefined): 101, or the refusal's status and body. */
function handshake(url, origin) {
  return new Promise((resolve, reject) => {
    const headers = {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    };
    if (origin) headers.origin = origin;
    const req = http.get(url, { headers });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, body: "" });
    });
    req.on("response", (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", reject);
  });
}

const context = await launch();
const page = await context.newPage();
const consoleErrors = [];
page.on("pageerror", (e) => consoleErrors.push(String(e)));
console.log(`artifacts: ${ARTIFACTS}`);

let email;
try {
  await step("register", async () => {
    email = await register(page);
    await screenshot(page, "registered");
  });

  let answerSession;
  await step("submit a task; the streamed answer and the Bash call appear", async () => {
    answerSession = await submitTask(page, "[scenario:web_answer] Write a short report to report.md");
    const conv = page.getByTestId("conversation");
    await conv.getByText("I'll write", { exact: false }).waitFor({ timeout: LONG });
    const bash = conv.locator('[data-tool="Bash"]');
    await bash.first().waitFor({ timeout: LONG });
    assert.match(await bash.first().innerText(), /printf '# Report/);
    await conv.getByText("The report is ready in").waitFor({ timeout: LONG });
    // The Bash output arrived with its result, and the run ended.
    await bash.first().locator(".terminal-out", { hasText: "wrote-report" }).waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    // Thinking is collapsed by default.
    assert.equal(await conv.locator("details.thinking").first().getAttribute("open"), null);
    // The Markdown answer is rendered, not shown raw.
    assert.equal(await conv.locator(".markdown strong", { hasText: "the report" }).count(), 1);
    await screenshot(page, "answer-and-bash");
  });

  await step("the produced file in Files and its preview", async () => {
    const detail = await page.evaluate(async (id) => (await fetch(`/api/v1/sessions/${id}`)).json(), answerSession);
    const runId = detail.runs[0].id;
    const probe = await page.evaluate(async (id) => {
      const r = await fetch(`/api/v1/runs/${id}/files`);
      return { status: r.status, body: await r.text() };
    }, runId);
    assert.ok(!routeMissing(probe), "the server must serve GET /api/v1/runs/{id}/files");
    await page.getByTestId("files-tab").click();
    const files = page.getByTestId("files");
    // The file in the tree (the "Changes in this run" list below names it too).
    const inTree = page.getByRole("tree", { name: "Files" }).getByRole("button", { name: /report\.md/ });
    // The export may land a moment after the run completes.
    for (let i = 0; i < 60; i++) {
      if (await inTree.count()) break;
      await page.waitForTimeout(1000);
      await files.getByRole("button", { name: "Refresh" }).click();
    }
    await inTree.click();
    // Rendered in the page when the storage lets the browser read the file (CORS), else a notice
    // (s3s-fs sends no CORS headers). Files are served as attachments, never rendered by the
    // storage, so there is no framed fallback.
    const preview = page.getByTestId("preview");
    await Promise.any([
      preview.getByText("All systems nominal.").waitFor({ timeout: 30_000 }),
      preview.getByTestId("preview-unavailable").waitFor({ timeout: 30_000 }),
    ]);
    await screenshot(page, "file-preview");
    // The Download link: a signed URL that makes the store answer as an attachment.
    const href = await preview.getByRole("link", { name: "Download" }).getAttribute("href");
    assert.equal(new URL(href).searchParams.get("response-content-disposition"), 'attachment; filename="report.md"');
    const r = await fetch(href);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /All systems nominal\./);
    await page.getByRole("tab", { name: "Conversation" }).click();
  });

  await step("cancel a long task", async () => {
    await page.goto(WEB_URL);
    await submitTask(page, "[scenario:web_slow] Take your time");
    await page.locator('.session-head [data-status="running"]').waitFor({ timeout: LONG });
    await screenshot(page, "long-task-running");
    await page.getByTestId("cancel").click();
    await page.locator('.session-head [data-status="canceled"]').waitFor({ timeout: LONG });
    await page.getByTestId("conversation").locator('[data-kind="end"]', { hasText: "canceled" }).waitFor({ timeout: LONG });
    await screenshot(page, "long-task-canceled");
  });

  await step("reload during a run: no message twice, nothing missing", async () => {
    await page.goto(WEB_URL);
    await submitTask(page, "[scenario:web_steps] Do five steps");
    const conv = page.getByTestId("conversation");
    await conv.getByText("Step 2 of 5 is under way.").waitFor({ timeout: LONG });
    await page.reload();
    await screenshot(page, "reloaded-mid-run");
    await conv.getByText("All five steps finished.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    for (let i = 1; i <= 5; i++) {
      assert.equal(await conv.getByText(`Step ${i} of 5 is under way.`).count(), 1, `step ${i} text`);
      assert.equal(await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: `step-${i}-output` }).count(), 1, `step ${i} output`);
    }
    assert.equal(await conv.getByText("All five steps finished.").count(), 1);
    assert.equal(await conv.locator('[data-kind="prompt"]').count(), 1);
    const keys = await conv.locator("[data-key]").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
    assert.equal(new Set(keys).size, keys.length, `duplicate rows: ${keys}`);
    await screenshot(page, "after-reload-complete");
  });

  await step("the backend goes away mid-run: reconnecting, then resumed without loss or repeats", async () => {
    const ctl = process.env.BACKEND_CTL;
    assert.ok(ctl, "BACKEND_CTL is not set (run through stack.sh)");
    await page.goto(WEB_URL);
    await submitTask(page, "[scenario:web_steps] Do five steps again");
    const conv = page.getByTestId("conversation");
    await conv.getByText("Step 2 of 5 is under way.").waitFor({ timeout: LONG });
    execFileSync(ctl, ["stop"], { stdio: "inherit" });
    await page.getByTestId("live-state").getByText("Reconnecting").waitFor({ timeout: 30_000 });
    await screenshot(page, "reconnecting");
    execFileSync(ctl, ["start"], { stdio: "inherit" });
    await page.getByTestId("live-state").waitFor({ state: "detached", timeout: 60_000 });
    await conv.getByText("All five steps finished.").waitFor({ timeout: LONG });
    for (let i = 1; i <= 5; i++) {
      assert.equal(await conv.getByText(`Step ${i} of 5 is under way.`).count(), 1, `step ${i} text`);
      assert.equal(await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: `step-${i}-output` }).count(), 1, `step ${i} output`);
    }
    const keys = await conv.locator("[data-key]").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
    assert.equal(new Set(keys).size, keys.length, `duplicate rows: ${keys}`);
    await screenshot(page, "resumed-after-reconnect");
  });

  // The human in the loop: a card per request, answered from the page; the session list's mark
  // and the tab title's count come and go with it.
  /** Submits from the home composer with a permission mode ("" keeps the server's default). */
  const submitWithMode = async (prompt, mode) => {
    await page.goto(WEB_URL);
    if (mode) {
      await page.getByRole("button", { name: "Options" }).click();
      await page.getByTestId("permission-mode").selectOption(mode);
    }
    return submitTask(page, prompt);
  };
  const card = (kind, status) => page.getByTestId("conversation").locator(`[data-kind="input"][data-input-kind="${kind}"][data-status="${status}"]`);
  const waitingBadge = (session) => page.getByTestId("session-list").locator(`a[href="/sessions/${session}"]`).getByTestId("waiting-badge");

  await step("a permission card in default mode: Allow → the tool runs; the list's mark and the title count clear", async () => {
    const session = await submitWithMode("[scenario:web_permission] Write allowed.txt", "default");
    const pending = card("permission", "pending");
    await pending.waitFor({ timeout: LONG });
    // Tied to its Bash call: the same tool_use_id, the command in the card, the time left.
    const toolUseId = await pending.getAttribute("data-tool-use-id");
    assert.ok(toolUseId, "the card names its tool call");
    assert.match(await pending.innerText(), /Bash[\s\S]*echo allowed > allowed\.txt/);
    assert.match(await pending.getByTestId("time-left").innerText(), /^\d+:\d\d left$/);
    await waitingBadge(session).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => document.title.startsWith("(1) "), null, { timeout: 10_000 });
    await screenshot(page, "permission-card");
    await pending.getByRole("button", { name: "Allow", exact: true }).click();
    const answered = card("permission", "answered");
    await answered.getByTestId("input-outcome").getByText(`Allowed by ${email}`).waitFor({ timeout: LONG });
    const conv = page.getByTestId("conversation");
    await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: "permission-granted" }).waitFor({ timeout: LONG });
    await conv.getByText("The permitted file is written.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    await waitingBadge(session).waitFor({ state: "detached", timeout: 30_000 });
    await page.waitForFunction(() => !document.title.startsWith("("), null, { timeout: 10_000 });
    await screenshot(page, "permission-allowed");
  });

  await step("a permission card: Edit… the command, then allow → the edited command runs", async () => {
    await submitWithMode("[scenario:web_permission] Write allowed.txt, edited", "default");
    const pending = card("permission", "pending");
    await pending.waitFor({ timeout: LONG });
    await pending.getByRole("button", { name: "Edit…" }).click();
    const command = pending.getByLabel("Command to run");
    assert.equal(await command.inputValue(), "echo allowed > allowed.txt && echo permission-granted");
    await command.fill("echo edited > allowed.txt && echo edited-by-a-person");
    await pending.getByRole("button", { name: "Allow edited" }).click();
    await card("permission", "answered")
      .getByTestId("input-outcome")
      .getByText(`Allowed by ${email} with an edited input: echo edited > allowed.txt && echo edited-by-a-person`)
      .waitFor({ timeout: LONG });
    const conv = page.getByTestId("conversation");
    await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: "edited-by-a-person" }).waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    assert.equal(await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: "permission-granted" }).count(), 0);
  });

  await step("a question card: pick an option → the agent gets the answer and replies", async () => {
    // Asked even under the server's default mode (bypassPermissions).
    await submitWithMode("[scenario:web_question] Pick a color with me", "");
    const pending = card("question", "pending");
    await pending.waitFor({ timeout: LONG });
    await pending.getByText("Which color should the button be?").waitFor();
    await pending.getByText("calm and cool").waitFor();
    const send = pending.getByRole("button", { name: "Send answer" });
    assert.equal(await send.isDisabled(), true, "nothing chosen yet");
    await pending.getByRole("button", { name: /^Blue/ }).click();
    await screenshot(page, "question-card");
    await send.click();
    await card("question", "answered").getByText("Which color should the button be? → Blue").waitFor({ timeout: LONG });
    await page.getByTestId("conversation").getByText("Thanks for answering; the button gets your color.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    const recorded = await (await fetch(`${process.env.LLM_URL}/_admin/requests`)).json();
    const sent = recorded.filter((r) => r.scenario === "web_question").map((r) => JSON.stringify(r.body));
    assert.ok(sent.some((b) => b.includes('Which color should the button be?\\"=\\"Blue')), "the model received the chosen answer");
    await screenshot(page, "question-answered");
  });

  await step("a plan card in plan mode: Approve with accept edits → the agent writes the file", async () => {
    await submitWithMode("[scenario:web_plan] Plan, then write plan.txt", "plan");
    const pending = card("plan", "pending");
    await pending.waitFor({ timeout: LONG });
    // The plan as Markdown.
    await pending.locator(".markdown strong", { hasText: "plan.txt" }).waitFor();
    assert.equal(await pending.getByLabel("Mode after approval").inputValue(), "acceptEdits");
    await screenshot(page, "plan-card");
    await pending.getByRole("button", { name: "Approve" }).click();
    await card("plan", "answered").getByText(`Approved by ${email} (Accept edits)`).waitFor({ timeout: LONG });
    const conv = page.getByTestId("conversation");
    await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: "plan-done" }).waitFor({ timeout: LONG });
    assert.match(await conv.locator('[data-tool="Bash"] .terminal-out').first().innerText(), /planned/);
    await conv.getByText("The plan is carried out.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    // Accept edits let the write run unasked: the plan was the only request.
    assert.equal(await conv.locator('[data-kind="input"]').count(), 1);
    await screenshot(page, "plan-approved");
  });

  await step("queued follow-ups: the strip shows one, edited in place, then deleted", async () => {
    const session = await submitWithMode("[scenario:web_slow] Take your time again", "");
    await page.locator('.session-head [data-status="running"]').waitFor({ timeout: LONG });
    const followUp = page.getByRole("form", { name: "Follow-up message" });
    await followUp.getByTestId("prompt").fill("first follow-up");
    await followUp.getByTestId("submit").click();
    const strip = page.getByTestId("queue-strip");
    await strip.getByTestId("queued-prompt").getByText("first follow-up").waitFor({ timeout: 30_000 });
    await strip.getByRole("button", { name: "Edit" }).click();
    await strip.getByLabel("Queued prompt").fill("edited follow-up");
    await screenshot(page, "queue-editing");
    await strip.getByRole("button", { name: "Save" }).click();
    await strip.getByTestId("queued-prompt").getByText("edited follow-up").waitFor({ timeout: 30_000 });
    const queue = await page.evaluate(async (id) => (await fetch(`/api/v1/sessions/${id}/queue`)).json(), session);
    assert.deepEqual(queue.runs.map((r) => r.prompt), ["edited follow-up"]);
    await screenshot(page, "queue-edited");
    await strip.getByRole("button", { name: "Delete" }).click();
    await strip.waitFor({ state: "detached", timeout: 30_000 });
    const after = await page.evaluate(async (id) => (await fetch(`/api/v1/sessions/${id}/queue`)).json(), session);
    assert.deepEqual(after.runs, []);
    await page.getByTestId("cancel").click();
    await page.locator('.session-head [data-status="canceled"]').waitFor({ timeout: LONG });
  });

  await step("composer options and scheduled tasks (when this server has them)", async () => {
    await page.goto(WEB_URL);
    await page.getByRole("button", { name: "Options" }).click();
    const modes = await page.getByTestId("permission-mode").locator("option").allInnerTexts();
    assert.ok(modes.some((m) => m.startsWith("Plan")), `modes: ${modes}`);
    await screenshot(page, "composer-options");
    const probe = await page.evaluate(async () => {
      const r = await fetch("/api/v1/scheduled-tasks");
      return { status: r.status, body: await r.text() };
    });
    await page.goto(`${WEB_URL}/scheduled`);
    assert.ok(!routeMissing(probe), "the server must serve /api/v1/scheduled-tasks");
    await page.getByRole("button", { name: "New scheduled task" }).click();
    const form = page.locator("form.schedule-form");
    await form.getByLabel("Name", { exact: true }).fill("Nightly report");
    await form.getByLabel("Prompt", { exact: true }).fill("[scenario:web_first_token] nightly");
    await form.getByLabel(/^Schedule/).fill("*/5 * * * *");
    await page.getByText("Every 5 minutes", { exact: false }).first().waitFor();
    await page.getByText("Next runs:").waitFor({ timeout: 10_000 });
    await screenshot(page, "schedule-form");
    await page.getByRole("button", { name: "Create scheduled task" }).click();
    const row = page.locator(".schedule-list li", { hasText: "Nightly report" });
    await row.waitFor();
    await row.getByLabel("Enabled").uncheck();
    await row.getByText("Disabled").waitFor();
    await row.getByRole("button", { name: "Run now" }).click();
    await page.waitForURL("**/sessions/*");
    await page.getByTestId("conversation").getByText("First token.").waitFor({ timeout: LONG });
    await screenshot(page, "scheduled-run-now");
  });

  await step("capabilities: a command and a preset made in the Capabilities screen, a task with them", async () => {
    const probe = await page.evaluate(async () => {
      const r = await fetch("/api/v1/slash-commands");
      return { status: r.status, body: await r.text() };
    });
    await page.goto(`${WEB_URL}/capabilities`);
    await page.getByRole("heading", { name: "Capabilities" }).waitFor();
    const tab = (name) => page.getByRole("tablist", { name: "Capability kinds" }).getByRole("tab", { name });
    assert.ok(!routeMissing(probe), "the server must serve /api/v1/slash-commands");

    // A skill uploaded as a zip: listed with its files, downloadable; an archive without a
    // SKILL.md is refused with the server's reason.
    const skillDir = mkdtempSync(join(tmpdir(), "workcell-e2e-skill-"));
    const zip = (file, entries) =>
      execFileSync("python3", [
        "-c",
        "import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for name, text in json.loads(sys.argv[2]).items(): z.writestr(name, text)",
        file,
        JSON.stringify(entries),
      ]);
    const goodZip = join(skillDir, "e2e-skill.zip");
    zip(goodZip, {
      "e2e-skill/SKILL.md": "---\nname: e2e-skill\ndescription: Says hello for the browser test\n---\nRun `hello.sh`.\n",
      "e2e-skill/hello.sh": "#!/bin/sh\necho hello\n",
    });
    const badZip = join(skillDir, "no-skill-md.zip");
    zip(badZip, { "notes/readme.txt": "no SKILL.md here\n" });
    await tab("Skills").click();
    await page.getByTestId("skill-upload").setInputFiles(goodZip);
    const skillRow = page.locator('.cap-list li[data-name="e2e-skill"]');
    await skillRow.waitFor({ timeout: 30_000 });
    assert.match(await skillRow.innerText(), /Says hello for the browser test/);
    assert.match(await skillRow.innerText(), /2 files/);
    await skillRow.getByRole("button", { name: "Files" }).click();
    await skillRow.getByRole("list", { name: "Files" }).getByText("hello.sh").waitFor();
    const download = await skillRow.getByRole("link", { name: "Download" }).getAttribute("href");
    const fetched = await page.evaluate(async (href) => {
      const r = await fetch(href);
      return { status: r.status, type: r.headers.get("content-type"), magic: Array.from(new Uint8Array(await r.arrayBuffer()).slice(0, 2)) };
    }, download);
    assert.deepEqual(fetched, { status: 200, type: "application/zip", magic: [0x50, 0x4b] });
    await page.getByTestId("skill-upload").setInputFiles(badZip);
    await page.getByRole("alert").getByText("no-skill-md.zip was not accepted", { exact: false }).waitFor({ timeout: 30_000 });
    await screenshot(page, "capabilities-skills");
    await page.getByRole("button", { name: "Dismiss" }).click();
    rmSync(skillDir, { recursive: true, force: true });

    // A pasted MCP configuration is checked before anything is sent.
    await tab("MCP servers").click();
    await page.getByRole("button", { name: "New MCP server" }).click();
    const mcpForm = page.getByRole("form", { name: "New MCP server" });
    await mcpForm.getByLabel("Configuration (JSON)").fill('{"command": "python3", ');
    await mcpForm.getByText("This is not valid JSON", { exact: false }).waitFor();
    await mcpForm.getByRole("button", { name: "Create MCP server" }).click();
    await mcpForm.getByRole("alert").getByText("This is not valid JSON", { exact: false }).waitFor();
    await screenshot(page, "capabilities-mcp-invalid-json");
    await mcpForm.getByRole("button", { name: "Cancel" }).click();

    // A slash command whose body uses $ARGUMENTS; the scenario marker is only in the body, so the
    // scripted model answers with it only if the command really expanded.
    await tab("Commands").click();
    await page.getByRole("button", { name: "New command" }).click();
    const cmdForm = page.getByRole("form", { name: "New command" });
    await cmdForm.getByLabel("Name", { exact: true }).fill("e2e-check");
    await cmdForm.getByLabel("Argument hint").fill("[what]");
    await cmdForm.getByLabel("Description").fill("Checks what it is given");
    await cmdForm.getByLabel("Body", { exact: true }).fill("[scenario:web_command] Check these **arguments**: $ARGUMENTS");
    await cmdForm.getByRole("button", { name: "Preview" }).click();
    await cmdForm.getByTestId("markdown-preview").locator("strong", { hasText: "arguments" }).waitFor();
    await screenshot(page, "capabilities-command-preview");
    await cmdForm.getByRole("button", { name: "Create command" }).click();
    const cmdRow = page.locator('.cap-list li[data-name="e2e-check"]');
    await cmdRow.waitFor();
    assert.match(await cmdRow.innerText(), /\/e2e-check \[what\]/);
    await screenshot(page, "capabilities-command-created");

    // A preset with a prompt template that turns the command on.
    await tab("Presets").click();
    await page.getByRole("button", { name: "New preset" }).click();
    const presetForm = page.getByRole("form", { name: "New preset" });
    await presetForm.getByLabel("Name", { exact: true }).fill("e2e-preset");
    await presetForm.getByLabel("Description").fill("Runs the e2e check");
    await presetForm.getByLabel(/^Prompt template/).fill("Keep the answer to one line.");
    await presetForm.getByRole("group", { name: "Commands" }).getByLabel("e2e-check").check();
    await screenshot(page, "capabilities-preset-form");
    await presetForm.getByRole("button", { name: "Create preset" }).click();
    const presetRow = page.locator('.cap-list li[data-name="e2e-preset"]');
    await presetRow.waitFor();
    assert.match(await presetRow.innerText(), /1 command/);
    assert.match(await presetRow.innerText(), /prompt template/);

    // The composer: the preset, what the task will get, and the command from the / suggestions.
    await page.goto(WEB_URL);
    await page.getByTestId("preset").selectOption({ label: "Preset: e2e-preset" });
    await page.getByRole("button", { name: "Options" }).click();
    const resolved = page.getByTestId("resolved-capabilities");
    await resolved.locator('[data-preset="e2e-preset"]').waitFor({ timeout: 10_000 });
    await resolved.getByText("/e2e-check").waitFor();
    const prompt = page.getByTestId("prompt");
    await prompt.click();
    await prompt.pressSequentially("/e2e");
    const suggestions = page.getByTestId("slash-suggestions");
    await suggestions.getByRole("option", { name: /\/e2e-check/ }).waitFor();
    assert.match(await suggestions.innerText(), /Checks what it is given/);
    await screenshot(page, "composer-preset-and-suggestions");
    await page.keyboard.press("Enter");
    await suggestions.waitFor({ state: "detached" });
    assert.equal(await prompt.inputValue(), "/e2e-check ");
    await prompt.pressSequentially("some args");
    assert.equal(await prompt.inputValue(), "/e2e-check some args", "the typed arguments");
    await page.getByTestId("submit").click();
    await page.waitForURL("**/sessions/*");

    // The conversation: the run's capabilities, the command loaded, the scripted answer, done.
    const conv = page.getByTestId("conversation");
    const runCaps = conv.getByTestId("run-capabilities").first();
    await runCaps.locator('[data-preset="e2e-preset"]').waitFor({ timeout: LONG });
    await runCaps.getByText("/e2e-check").waitFor();
    await conv.getByText("command ran.", { exact: false }).waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    const init = conv.getByTestId("agent-init").first();
    await init.locator(".chip-own", { hasText: "/e2e-check" }).waitFor({ timeout: LONG });
    await screenshot(page, "capabilities-run-completed");

    // What the model was sent: the command's body with the arguments, and the preset's template.
    const recorded = await (await fetch(`${process.env.LLM_URL}/_admin/requests`)).json();
    const sent = recorded.filter((r) => r.scenario === "web_command").map((r) => JSON.stringify(r.body));
    assert.ok(sent.length > 0, "no request answered by the web_command scenario");
    assert.ok(
      sent.some((b) => b.includes("Check these **arguments**: some args")),
      `the command's body with $ARGUMENTS expanded; the model was sent: ${sent.map((b) => (b.match(/Check these[^"\\]*/) ?? ["(no body)"])[0]).join(" | ")}`,
    );
    assert.ok(sent.some((b) => b.includes("Keep the answer to one line.")), "the preset's prompt template");
  });

  await step("a subagent made in the Capabilities screen: its work nests under the Task call", async () => {
    const probe = await page.evaluate(async () => {
      const r = await fetch("/api/v1/subagents");
      return { status: r.status, body: await r.text() };
    });
    assert.ok(!routeMissing(probe), "the server must serve /api/v1/subagents");
    await page.goto(`${WEB_URL}/capabilities#subagents`);
    await page.getByRole("button", { name: "New subagent" }).click();
    const form = page.getByRole("form", { name: "New subagent" });
    await form.getByLabel("Name", { exact: true }).fill("e2e-helper");
    await form.getByLabel("Description").fill("Helps the browser test");
    await form.getByLabel("Tools (comma-separated; empty: all)").fill("Bash, Read");
    // The scripted model answers the subagent's conversation by this text in its system prompt.
    await form.getByLabel("System prompt", { exact: true }).fill("You are the e2e helper agent. Say hello.");
    await form.getByRole("button", { name: "Create subagent" }).click();
    await page.locator('.cap-list li[data-name="e2e-helper"]').waitFor();

    // No preset: a new task gets every enabled item, the subagent among them.
    await submitTask(page, "[scenario:web_delegate] Delegate to the helper");
    const conv = page.getByTestId("conversation");
    await conv.getByText("Delegation finished.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    await conv.getByTestId("agent-init").first().locator(".chip-own", { hasText: "e2e-helper" }).waitFor();
    const task = conv.locator(".tool-group", { has: page.locator(".tool-task") });
    await task.waitFor();
    assert.match(await task.locator(".tool-head").innerText(), /e2e-helper: Check the helper/);
    // The subagent's tool call (with its output) is folded under the call, not in the main flow.
    const helperOutput = '[data-tool="Bash"] .terminal-out';
    assert.equal(await conv.locator(helperOutput, { hasText: "helper-output" }).count(), 0, "the subagent's call is folded");
    const nested = task.getByTestId("subagent-events");
    const toggle = nested.getByRole("button", { name: /Subagent: \d+ events?/ });
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    await screenshot(page, "subagent-folded");
    await toggle.click();
    await nested.locator(helperOutput, { hasText: "helper-output" }).waitFor();
    assert.equal(await conv.locator(helperOutput, { hasText: "helper-output" }).count(), 1);
    await screenshot(page, "subagent-expanded");
  });

  // Secrets, the model catalog and projects. A secret's value goes to the server once and never
  // comes back: not in the list, not in any answer, not in the page.
  const E2E_SECRET = "E2E_TOKEN";
  const secretValue = `e2e-secret-value-${Date.now()}-wxyz`;
  const replacedValue = `e2e-replaced-value-${Date.now()}-abcd`;
  /** Every answer's body from now on (read as text; answers without one are skipped). */
  const recordAnswers = () => {
    const bodies = [];
    const onResponse = (r) => bodies.push(r.text().then((text) => ({ url: r.url(), text }), () => null));
    page.on("response", onResponse);
    return async () => {
      page.off("response", onResponse);
      return (await Promise.all(bodies)).filter(Boolean);
    };
  };
  /** Asserts that no value appears in the page: its HTML, the fields' values, or the answers. */
  const assertNowhere = async (values, answers) => {
    const html = await page.content();
    const fields = await page.locator("input, textarea").evaluateAll((els) => els.map((e) => e.value));
    for (const v of values) {
      assert.ok(!html.includes(v), "a secret's value is in the page's HTML");
      assert.ok(!fields.some((f) => f.includes(v)), "a secret's value is left in a field");
      const leaked = answers.filter((a) => a.text.includes(v)).map((a) => a.url);
      assert.deepEqual(leaked, [], "a secret's value came back in an answer");
    }
  };

  await step("secrets: one added shows only its last 4 characters; replaced; its values appear nowhere afterwards", async () => {
    const probe = await page.evaluate(async () => {
      const r = await fetch("/api/v1/secrets");
      return { status: r.status, body: await r.text() };
    });
    assert.ok(!routeMissing(probe), "the server must serve /api/v1/secrets");
    await page.goto(`${WEB_URL}/secrets`);
    await page.getByRole("heading", { name: "Secrets", exact: true }).waitFor();
    const answers = recordAnswers();
    await page.getByRole("button", { name: "New secret" }).click();
    const form = page.getByRole("form", { name: "New secret" });
    const name = form.getByLabel("Name", { exact: true });
    // Names are upper case as typed; an invalid one is explained before anything is sent.
    await name.fill("9lives");
    await form.getByText("capital letters, digits and _", { exact: false }).waitFor();
    await name.fill("e2e_token");
    assert.equal(await name.inputValue(), E2E_SECRET);
    const value = form.getByLabel("Value");
    assert.equal(await value.getAttribute("type"), "password");
    await value.fill(secretValue);
    await form.getByLabel("Description").fill("Token for the browser test");
    await screenshot(page, "secrets-new");
    await form.getByRole("button", { name: "Create secret" }).click();
    await form.waitFor({ state: "detached" });
    const row = page.getByTestId("secret-list").locator(`li[data-name="${E2E_SECRET}"]`);
    await row.waitFor();
    assert.equal(await row.getByTestId("secret-last4").innerText(), "••••wxyz");
    assert.match(await row.innerText(), /Token for the browser test/);
    // The same name again: refused with what to do instead.
    await page.getByRole("button", { name: "New secret" }).click();
    await form.getByLabel("Name", { exact: true }).fill(E2E_SECRET);
    await form.getByLabel("Value").fill("another-value-0123456789");
    await form.getByRole("button", { name: "Create secret" }).click();
    await form.getByRole("alert").getByText(`You already have a secret named ${E2E_SECRET}`, { exact: false }).waitFor();
    await form.getByRole("button", { name: "Cancel" }).click();
    // A new value, then a new description.
    await row.getByRole("button", { name: "Replace value" }).click();
    const replace = page.getByRole("form", { name: `Replace the value of ${E2E_SECRET}` });
    await replace.getByLabel("New value").fill(replacedValue);
    await replace.getByRole("button", { name: "Replace value" }).click();
    await replace.waitFor({ state: "detached" });
    await row.getByTestId("secret-last4").getByText("••••abcd").waitFor();
    await row.getByRole("button", { name: "Edit description" }).click();
    const descriptionForm = page.getByRole("form", { name: `Edit the description of ${E2E_SECRET}` });
    await descriptionForm.getByLabel("Description").fill("The browser test's token");
    await descriptionForm.getByRole("button", { name: "Save description" }).click();
    await row.getByText("The browser test's token").waitFor();
    // Read again from the server.
    await page.reload();
    await row.waitFor();
    assert.equal(await row.getByTestId("secret-last4").innerText(), "••••abcd");
    await screenshot(page, "secrets-listed");
    await assertNowhere([secretValue, replacedValue], await answers());
    const listed = JSON.parse((await page.evaluate(async () => (await fetch("/api/v1/secrets")).text())) || "{}");
    assert.deepEqual(
      listed.secrets.filter((s) => s.name === E2E_SECRET).map((s) => [s.last4, s.system, Object.keys(s).some((k) => /value/i.test(k))]),
      [["abcd", false, false]],
    );
  });

  await step("the composer's model picker lists the catalog, the token picker the secret; the picked model reaches the model", async () => {
    const probe = await page.evaluate(async () => {
      const r = await fetch("/api/v1/models");
      return { status: r.status, body: await r.text() };
    });
    assert.ok(!routeMissing(probe), "the server must serve /api/v1/models");
    assert.equal(probe.status, 200, probe.body);
    const catalog = JSON.parse(probe.body);
    assert.ok(catalog.models.length > 0, "the catalog lists no model");
    const answers = recordAnswers();
    await page.goto(WEB_URL);
    await page.getByRole("button", { name: "Options" }).click();
    const picker = page.getByTestId("model-picker");
    await picker.locator(`option[value="${catalog.models[0].id}"]`).waitFor({ state: "attached" });
    const options = await picker.locator("option").evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent })));
    // First the server's default (named), then every model of the catalog, in its order.
    assert.equal(options[0].value, "");
    assert.ok(options[0].text.startsWith("Server default"), options[0].text);
    if (catalog.default_model) assert.ok(options[0].text.includes("("), `the default is named: ${options[0].text}`);
    assert.deepEqual(
      options.slice(1).map((o) => o.value),
      catalog.models.map((m) => m.id),
    );
    assert.deepEqual(
      options.slice(1).map((o) => o.text),
      catalog.models.map((m) => m.label || m.id),
    );
    // The repository token: picked by name among the user's secrets (and the system's).
    const token = page.getByTestId("token-secret");
    await token.locator(`option[value="${E2E_SECRET}"]`).waitFor({ state: "attached" });
    assert.equal(await token.isDisabled(), true, "no token without a repository");
    await page.getByLabel("Git repository").fill("https://example.com/owner/repo.git");
    await token.selectOption(E2E_SECRET);
    await page.getByLabel("Git repository").fill("");
    await screenshot(page, "composer-model-picker");
    // A model other than the default when the catalog has one, served by the manager's own upstream.
    const own = catalog.models.filter((m) => m.provider === "anthropic");
    const chosen = (own.find((m) => m.id !== catalog.default_model) ?? own[0] ?? catalog.models[0]).id;
    await picker.selectOption(chosen);
    const marker = `picked-model-${Date.now()}`;
    const session = await submitTask(page, `[scenario:web_first_token] ${marker}`);
    await page.getByTestId("conversation").getByText("First token.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    const detail = await page.evaluate(async (id) => (await fetch(`/api/v1/sessions/${id}`)).json(), session);
    assert.equal(detail.runs[0].model, chosen);
    const recorded = await (await fetch(`${process.env.LLM_URL}/_admin/requests`)).json();
    const sent = recorded.filter((r) => JSON.stringify(r.body).includes(marker));
    assert.ok(sent.length > 0, "no model request carried the task");
    assert.ok(
      sent.some((r) => r.body.model === chosen),
      `the picked model ${chosen}; the model was asked as ${sent.map((r) => r.body.model).join(", ")}`,
    );
    await assertNowhere([secretValue, replacedValue], await answers());
  });

  await step("projects: one created and chosen in the switcher; a task sent in it is listed under it, not under another", async () => {
    const probe = await page.evaluate(async () => {
      const r = await fetch("/api/v1/projects");
      return { status: r.status, body: await r.text() };
    });
    assert.ok(!routeMissing(probe), "the server must serve /api/v1/projects");
    const switcher = page.getByTestId("project-switcher");
    const list = page.getByTestId("session-list");
    const chosenLabel = () => switcher.evaluate((s) => s.options[s.selectedIndex].textContent);
    const createProject = async (name, description) => {
      const form = page.getByRole("form", { name: "New project" });
      await form.getByLabel("Name", { exact: true }).fill(name);
      await form.getByLabel("Description").fill(description);
      await form.getByRole("button", { name: "Create project" }).click();
      await page.getByTestId("project-name").getByText(name, { exact: true }).waitFor();
      return new URL(page.url()).pathname.split("/projects/")[1];
    };

    // One from the projects page, one from the switcher's "New project…"; each new one is chosen.
    await page.goto(`${WEB_URL}/projects`);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.getByRole("button", { name: "New project" }).click();
    const alpha = await createProject("e2e-alpha", "The browser test's first project");
    assert.equal(await chosenLabel(), "e2e-alpha");
    await switcher.selectOption({ label: "+ New project…" });
    await page.getByRole("form", { name: "New project" }).waitFor();
    const beta = await createProject("e2e-beta", "The second one");
    assert.equal(await chosenLabel(), "e2e-beta");
    assert.notEqual(alpha, beta);

    // Alpha's page: defaults (the model picker lists the catalog), instructions and a file.
    await switcher.selectOption({ label: "e2e-alpha" });
    await page.getByRole("link", { name: "Open the project e2e-alpha" }).click();
    await page.getByTestId("project-name").getByText("e2e-alpha", { exact: true }).waitFor();
    await page.getByRole("tab", { name: "Defaults" }).click();
    const defaults = page.getByRole("form", { name: "Project defaults" });
    const catalog = await page.evaluate(async () => (await fetch("/api/v1/models")).json());
    const projectModel = catalog.models[catalog.models.length - 1].id;
    await defaults.getByTestId("project-model").locator(`option[value="${projectModel}"]`).waitFor({ state: "attached" });
    await defaults.getByTestId("project-model").selectOption(projectModel);
    await defaults.getByTestId("project-mode").selectOption("acceptEdits");
    await defaults.getByTestId("project-token-secret").locator(`option[value="${E2E_SECRET}"]`).waitFor({ state: "attached" });
    await defaults.getByRole("button", { name: "Save defaults" }).click();
    await defaults.getByText("Saved.").waitFor();
    await page.getByRole("tab", { name: "Instructions" }).click();
    await page.getByRole("textbox", { name: "Project instructions", exact: true }).fill("# Alpha\n\nKeep answers short.");
    await page.getByRole("button", { name: "Save instructions" }).click();
    await page.getByRole("form", { name: "Project instructions" }).getByText("Saved.").waitFor();
    const fileDir = mkdtempSync(join(tmpdir(), "workcell-e2e-project-"));
    const notes = join(fileDir, "alpha-notes.txt");
    writeFileSync(notes, "notes for every run of the alpha project\n");
    await page.getByRole("tab", { name: "Files" }).click();
    await page.getByTestId("project-file-upload").setInputFiles(notes);
    await page.getByTestId("project-files").locator('li[data-name="alpha-notes.txt"]').waitFor({ timeout: 30_000 });
    rmSync(fileDir, { recursive: true, force: true });
    await screenshot(page, "project-files");
    const saved = await page.evaluate(async (id) => (await fetch(`/api/v1/projects/${id}`)).json(), alpha);
    assert.equal(saved.defaults.model, projectModel);
    assert.equal(saved.defaults.permission_mode, "acceptEdits");
    assert.equal(saved.instructions, "# Alpha\n\nKeep answers short.");
    assert.deepEqual(saved.files.map((f) => f.name), ["alpha-notes.txt"]);

    // A task in alpha: the composer says so, the session belongs to it.
    await page.getByTestId("project-new-task").click();
    await page.getByTestId("composer-project").getByText("e2e-alpha").waitFor();
    await page.getByRole("button", { name: "Options" }).click();
    assert.match(await page.getByTestId("model-picker").evaluate((s) => s.options[0].textContent), /^Project default/);
    const session = await submitTask(page, "[scenario:web_first_token] a task in the alpha project");
    await page.getByTestId("session-project").getByText("e2e-alpha").waitFor();
    await page.getByTestId("conversation").getByText("First token.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    const detail = await page.evaluate(async (id) => (await fetch(`/api/v1/sessions/${id}`)).json(), session);
    assert.equal(detail.project_id, alpha);
    // The project's defaults filled what the task left out.
    assert.equal(detail.runs[0].model, projectModel);
    assert.equal(detail.runs[0].permission_mode, "acceptEdits");
    const link = list.locator(`a[href="/sessions/${session}"]`);
    await link.waitFor();
    await screenshot(page, "project-session-listed");

    // Not under beta; back under all sessions; on alpha's page.
    await switcher.selectOption({ label: "e2e-beta" });
    await page.getByText("No sessions in this project yet.").waitFor();
    assert.equal(await link.count(), 0, "alpha's session is listed under beta");
    await screenshot(page, "project-beta-empty");
    await switcher.selectOption({ label: "All sessions" });
    await link.waitFor();
    await switcher.selectOption({ label: "e2e-alpha" });
    await link.waitFor();
    assert.equal(await list.locator("a.session-link").count(), 1, "only alpha's session under alpha");
    const ids = async (id) =>
      (await page.evaluate(async (p) => (await fetch(`/api/v1/sessions?limit=50&project_id=${p}`)).json(), id)).sessions.map((s) => s.id);
    assert.deepEqual(await ids(alpha), [session]);
    assert.deepEqual(await ids(beta), []);
    await page.goto(`${WEB_URL}/projects/${alpha}`);
    await page.getByTestId("project-sessions").locator(`a[href="/sessions/${session}"]`).waitFor();

    // Deleting alpha is refused while it has a session; the confirmation then offers both.
    await page.getByRole("button", { name: "Delete…" }).click();
    const panel = page.getByTestId("delete-project");
    await panel.getByRole("button", { name: "Delete the project", exact: true }).click();
    await panel.getByRole("button", { name: "Delete the project and its sessions" }).waitFor();
    await screenshot(page, "project-delete-cascade");
    await panel.getByRole("button", { name: "Delete the project and its sessions" }).click();
    await page.waitForURL("**/projects");
    assert.equal(await chosenLabel(), "All sessions", "the deleted project is no longer chosen");
    const gone = await page.evaluate(async (id) => (await fetch(`/api/v1/sessions/${id}`)).status, session);
    assert.equal(gone, 404);
    // Beta has no sessions: deleted at the first confirmation.
    await page.goto(`${WEB_URL}/projects/${beta}`);
    await page.getByRole("button", { name: "Delete…" }).click();
    await panel.getByRole("button", { name: "Delete the project", exact: true }).click();
    await page.waitForURL("**/projects");
    assert.deepEqual(await switcher.locator("option").evaluateAll((os) => os.map((o) => o.textContent)), ["All sessions", "+ New project…"]);
  });

  await step("account: an API token named e2e with the default scopes is created, shown once, listed, works, then revoked", async () => {
    await page.getByRole("link", { name: "Account", exact: true }).click();
    await page.getByRole("heading", { name: "Account", exact: true }).waitFor();
    assert.equal(await page.getByTestId("account-email").innerText(), email);
    await page.getByRole("button", { name: "New token" }).click();
    const form = page.getByRole("form", { name: "New API token" });
    await form.getByLabel("Name", { exact: true }).fill("e2e");
    const defaults = await form.locator('input[name="scope"]:checked').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(defaults, ["tasks:write", "sessions:read", "files:read"]);
    await form.getByRole("button", { name: "Create token" }).click();
    const shown = page.getByTestId("new-token");
    const token = await shown.getByRole("textbox").inputValue();
    assert.match(token, /^wc_/);
    const row = page.getByTestId("token-list").locator('tr[data-name="e2e"]');
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(token.slice(0, 7)));
    await screenshot(page, "account-token");
    const withToken = (t) => page.evaluate(async (t) => (await fetch("/api/v1/sessions", { credentials: "omit", headers: { authorization: `Bearer ${t}` } })).status, t);
    assert.equal(await withToken(token), 200);
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: "Revoke e2e" }).click();
    await row.waitFor({ state: "detached" });
    assert.equal(await withToken(token), 401);
  });

  await step("the proxy refuses the internal API and forwards errors readably", async () => {
    for (const path of ["/api/v1/internal/runs/claim", "/api/v1/%69nternal/runs/claim", "/api/v1/INTERNAL/runs/claim"]) {
      const r = await fetch(`${WEB_URL}${path}`, { method: "POST", headers: { "x-internal-token": "guess" } });
      assert.equal(r.status, 404, path);
      assert.equal((await r.json()).error.code, "not_found", path);
    }
    // A backend error passes through as the backend's JSON error body.
    const r = await fetch(`${WEB_URL}/api/v1/sessions/not-a-uuid`);
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    assert.ok((await r.json()).error.message);
  });

  await step("the proxy forwards each browser's own address: a lockout stays with its client", async () => {
    // Two clients of the web server, from 127.0.0.2 and 127.0.0.3. The first fails 20 logins
    // (LOGIN_IP_MAX_FAILURES) claiming to be the second in every header it can; the backend must
    // lock out the first (the socket peer the web server saw) and not the second.
    const login = (from, mail, password, forged = {}) =>
      nodeRequest(`${WEB_URL}/api/v1/auth/login`, {
        method: "POST",
        localAddress: from,
        headers: { "content-type": "application/json", ...forged },
        body: JSON.stringify({ email: mail, password }),
      });
    const blame = { "x-forwarded-for": "127.0.0.3", "x-workcell-client-ip": "127.0.0.3", "x-real-ip": "127.0.0.3" };
    for (let i = 0; i < 20; i++) {
      const r = await login("127.0.0.2", `nobody-${i}-${Date.now()}@example.com`, "wrong password!", blame);
      assert.equal(r.status, 401, `failure ${i + 1}: ${r.body}`);
    }
    const locked = await login("127.0.0.2", email, "correct horse battery staple", blame);
    assert.equal(locked.status, 429, `the failing client is locked out: ${locked.body}`);
    assert.equal(JSON.parse(locked.body).error.code, "rate_limited");
    const other = await login("127.0.0.3", email, "correct horse battery staple");
    assert.equal(other.status, 200, `the other client still logs in: ${other.body}`);
  });

  await step("the backend's WebSocket refuses a foreign page and accepts the web UI's", async () => {
    const ws = `${process.env.BACKEND_URL}/api/v1/ws`;
    const foreign = await handshake(ws, "http://evil.example");
    assert.equal(foreign.status, 403);
    assert.equal(JSON.parse(foreign.body).error.code, "forbidden_origin");
    assert.equal((await handshake(ws, new URL(WEB_URL).origin)).status, 101);
    assert.equal((await handshake(ws, undefined)).status, 101);
  });

  await step("phone-sized layout and dark theme", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("button", { name: "Switch between light and dark theme" }).click();
    await screenshot(page, "phone-dark");
    await page.getByRole("button", { name: "Open the menu" }).click();
    await page.getByTestId("session-list").waitFor();
    await page.waitForTimeout(400); // the slide-in transition
    await screenshot(page, "phone-menu");
  });

  assert.deepEqual(consoleErrors, [], "uncaught errors in the page");
} finally {
  await context.close();
}
if (failures.length) process.exit(1);
console.log("all end-to-end steps passed");
