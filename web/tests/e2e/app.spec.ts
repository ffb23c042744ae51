// End to end through the real stack (started by stack.sh): register → submit a task → the
// streamed answer and the Bash tool call appear → the produced file in Files → cancel a long task
// → reload during a run: nothing twice, nothing missing → the backend restarts mid-run → a
// permission, a question and a plan card answered from the page → queued follow-ups edited and
// deleted in their strip → scheduled tasks → a slash command, a preset and a subagent made in the
// Capabilities screen, and tasks run with them → a secret added (its value nowhere afterwards),
// the model picker from the catalog, projects (a task in the chosen one listed under it and not
// under another), an API token made and revoked on the Account page → the proxy's and the
// WebSocket's refusals → a phone-sized dark layout → search, Chinese, usage.
//
// The steps run in order in one browser page and build on each other (one account); the first
// failure skips the rest.
import { expect, test, type BrowserContext, type Page, type Response } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  env,
  getJson,
  handshake,
  LONG,
  modelRequests,
  nodeRequest,
  probe,
  register,
  routeMissing,
  screenshot,
  submitTask,
  WEB_URL,
} from "./support";

test.describe.configure({ mode: "serial" });

test.describe("workcell web UI", () => {
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  test.beforeAll(async ({ browser }) => {
    env("WEB_URL");
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
  });

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status === testInfo.expectedStatus) return;
    const alerts = await page.getByRole("alert").allInnerTexts().catch(() => []);
    if (alerts.length) console.log(`  alerts on the page: ${alerts.join(" | ")}`);
  });

  test.afterAll(async () => {
    await context?.close();
  });

  let email = "";
  let answerSession = "";

  test("register", async () => {
    email = await register(page);
    await screenshot(page, "registered");
  });

  test("submit a task; the streamed answer and the Bash call appear", async () => {
    answerSession = await submitTask(page, "[scenario:web_answer] Write a short report to report.md");
    const conv = page.getByTestId("conversation");
    await conv.getByText("I'll write", { exact: false }).waitFor({ timeout: LONG });
    const bash = conv.locator('[data-tool="Bash"]');
    await bash.first().waitFor({ timeout: LONG });
    expect(await bash.first().innerText()).toMatch(/printf '# Report/);
    await conv.getByText("The report is ready in").waitFor({ timeout: LONG });
    // The Bash output arrived with its result, and the run ended.
    await bash.first().locator(".terminal-out", { hasText: "wrote-report" }).waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    // Thinking is collapsed by default.
    expect(await conv.locator("details.thinking").first().getAttribute("open")).toBeNull();
    // The Markdown answer is rendered, not shown raw.
    expect(await conv.locator(".markdown strong", { hasText: "the report" }).count()).toBe(1);
    await screenshot(page, "answer-and-bash");
  });

  test("the produced file in Files and its preview", async () => {
    const detail = await getJson(page, `/sessions/${answerSession}`);
    const runId = detail.runs[0].id;
    const files = await probe(page, `/runs/${runId}/files`);
    expect(routeMissing(files), "the server must serve GET /api/v1/runs/{id}/files").toBe(false);
    await page.getByTestId("files-tab").click();
    const panel = page.getByTestId("files");
    // The file in the tree (the "Changes in this run" list below names it too).
    const inTree = page.getByRole("tree", { name: "Files" }).getByRole("button", { name: /report\.md/ });
    // The export may land a moment after the run completes.
    for (let i = 0; i < 60; i++) {
      if (await inTree.count()) break;
      await page.waitForTimeout(1000);
      await panel.getByRole("button", { name: "Refresh" }).click();
    }
    await inTree.click();
    const preview = page.getByTestId("preview");
    // A file the run added opens on its changes: every line added (the server's diff against the
    // previous export, of which there is none).
    const diff = preview.getByTestId("diff-view");
    await diff.locator(".dv-add", { hasText: "All systems nominal." }).waitFor({ timeout: 30_000 });
    expect(await diff.locator(".dv-add").allInnerTexts()).toHaveLength(3);
    expect(await diff.locator(".dv-remove").count()).toBe(0);
    await screenshot(page, "file-diff");
    await preview.getByRole("tab", { name: "Preview" }).click();
    // Rendered in the page when the storage lets the browser read the file (CORS), else a notice
    // (s3s-fs sends no CORS headers). Files are served as attachments, never rendered by the
    // storage, so there is no framed fallback.
    await Promise.any([
      preview.getByText("All systems nominal.").waitFor({ timeout: 30_000 }),
      preview.getByTestId("preview-unavailable").waitFor({ timeout: 30_000 }),
    ]);
    await screenshot(page, "file-preview");
    // The Download link: a signed URL that makes the store answer as an attachment.
    const href = await preview.getByRole("link", { name: "Download" }).getAttribute("href");
    expect(href).toBeTruthy();
    expect(new URL(href!).searchParams.get("response-content-disposition")).toBe('attachment; filename="report.md"');
    const r = await fetch(href!);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/All systems nominal\./);
    await page.getByRole("tab", { name: "Conversation" }).click();
  });

  test("cancel a long task", async () => {
    await page.goto(WEB_URL);
    await submitTask(page, "[scenario:web_slow] Take your time");
    await page.locator('.session-head [data-status="running"]').waitFor({ timeout: LONG });
    await screenshot(page, "long-task-running");
    await page.getByTestId("cancel").click();
    await page.locator('.session-head [data-status="canceled"]').waitFor({ timeout: LONG });
    await page.getByTestId("conversation").locator('[data-kind="end"]', { hasText: "canceled" }).waitFor({ timeout: LONG });
    await screenshot(page, "long-task-canceled");
  });

  /** Every step's text and Bash output of the web_steps scenario once, and no row twice. */
  const expectFiveStepsOnce = async () => {
    const conv = page.getByTestId("conversation");
    for (let i = 1; i <= 5; i++) {
      expect(await conv.getByText(`Step ${i} of 5 is under way.`).count(), `step ${i} text`).toBe(1);
      expect(await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: `step-${i}-output` }).count(), `step ${i} output`).toBe(1);
    }
  };
  const expectNoDuplicateRows = async () => {
    const keys = await page
      .getByTestId("conversation")
      .locator("[data-key]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
    expect(new Set(keys).size, `duplicate rows: ${keys}`).toBe(keys.length);
  };

  test("reload during a run: no message twice, nothing missing", async () => {
    await page.goto(WEB_URL);
    await submitTask(page, "[scenario:web_steps] Do five steps");
    const conv = page.getByTestId("conversation");
    await conv.getByText("Step 2 of 5 is under way.").waitFor({ timeout: LONG });
    await page.reload();
    await screenshot(page, "reloaded-mid-run");
    await conv.getByText("All five steps finished.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    await expectFiveStepsOnce();
    expect(await conv.getByText("All five steps finished.").count()).toBe(1);
    expect(await conv.locator('[data-kind="prompt"]').count()).toBe(1);
    await expectNoDuplicateRows();
    await screenshot(page, "after-reload-complete");
  });

  test("the backend goes away mid-run: reconnecting, then resumed without loss or repeats", async () => {
    const ctl = env("BACKEND_CTL");
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
    await expectFiveStepsOnce();
    await expectNoDuplicateRows();
    await screenshot(page, "resumed-after-reconnect");
  });

  // The human in the loop: a card per request, answered from the page; the session list's mark
  // and the tab title's count come and go with it.
  /** Submits from the home composer with a permission mode ("" keeps the server's default). */
  const submitWithMode = async (prompt: string, mode: string) => {
    await page.goto(WEB_URL);
    if (mode) {
      await page.getByRole("button", { name: "Options" }).click();
      await page.getByTestId("permission-mode").selectOption(mode);
    }
    return submitTask(page, prompt);
  };
  const card = (kind: string, status: string) =>
    page.getByTestId("conversation").locator(`[data-kind="input"][data-input-kind="${kind}"][data-status="${status}"]`);
  const waitingBadge = (session: string) =>
    page.getByTestId("session-list").locator(`a[href="/sessions/${session}"]`).getByTestId("waiting-badge");

  test("a permission card in default mode: Allow → the tool runs; the list's mark and the title count clear", async () => {
    const session = await submitWithMode("[scenario:web_permission] Write allowed.txt", "default");
    const pending = card("permission", "pending");
    await pending.waitFor({ timeout: LONG });
    // Tied to its Bash call: the same tool_use_id, the command in the card, the time left.
    const toolUseId = await pending.getAttribute("data-tool-use-id");
    expect(toolUseId, "the card names its tool call").toBeTruthy();
    expect(await pending.innerText()).toMatch(/Bash[\s\S]*echo allowed > allowed\.txt/);
    expect(await pending.getByTestId("time-left").innerText()).toMatch(/^\d+:\d\d left$/);
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

  test("a permission card: Edit… the command, then allow → the edited command runs", async () => {
    await submitWithMode("[scenario:web_permission] Write allowed.txt, edited", "default");
    const pending = card("permission", "pending");
    await pending.waitFor({ timeout: LONG });
    await pending.getByRole("button", { name: "Edit…" }).click();
    const command = pending.getByLabel("Command to run");
    expect(await command.inputValue()).toBe("echo allowed > allowed.txt && echo permission-granted");
    await command.fill("echo edited > allowed.txt && echo edited-by-a-person");
    await pending.getByRole("button", { name: "Allow edited" }).click();
    await card("permission", "answered")
      .getByTestId("input-outcome")
      .getByText(`Allowed by ${email} with an edited input: echo edited > allowed.txt && echo edited-by-a-person`)
      .waitFor({ timeout: LONG });
    const conv = page.getByTestId("conversation");
    await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: "edited-by-a-person" }).waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    expect(await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: "permission-granted" }).count()).toBe(0);
  });

  test("a question card: pick an option → the agent gets the answer and replies", async () => {
    // Asked even under the server's default mode (bypassPermissions).
    await submitWithMode("[scenario:web_question] Pick a color with me", "");
    const pending = card("question", "pending");
    await pending.waitFor({ timeout: LONG });
    await pending.getByText("Which color should the button be?").waitFor();
    await pending.getByText("calm and cool").waitFor();
    const send = pending.getByRole("button", { name: "Send answer" });
    expect(await send.isDisabled(), "nothing chosen yet").toBe(true);
    await pending.getByRole("button", { name: /^Blue/ }).click();
    await screenshot(page, "question-card");
    await send.click();
    await card("question", "answered").getByText("Which color should the button be? → Blue").waitFor({ timeout: LONG });
    await page.getByTestId("conversation").getByText("Thanks for answering; the button gets your color.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    const sent = (await modelRequests()).filter((r) => r.scenario === "web_question").map((r) => JSON.stringify(r.body));
    expect(sent.some((b) => b.includes('Which color should the button be?\\"=\\"Blue')), "the model received the chosen answer").toBe(true);
    await screenshot(page, "question-answered");
  });

  test("a plan card in plan mode: Approve with accept edits → the agent writes the file", async () => {
    await submitWithMode("[scenario:web_plan] Plan, then write plan.txt", "plan");
    const pending = card("plan", "pending");
    await pending.waitFor({ timeout: LONG });
    // The plan as Markdown.
    await pending.locator(".markdown strong", { hasText: "plan.txt" }).waitFor();
    expect(await pending.getByLabel("Mode after approval").inputValue()).toBe("acceptEdits");
    await screenshot(page, "plan-card");
    await pending.getByRole("button", { name: "Approve" }).click();
    await card("plan", "answered").getByText(`Approved by ${email} (Accept edits)`).waitFor({ timeout: LONG });
    const conv = page.getByTestId("conversation");
    await conv.locator('[data-tool="Bash"] .terminal-out', { hasText: "plan-done" }).waitFor({ timeout: LONG });
    expect(await conv.locator('[data-tool="Bash"] .terminal-out').first().innerText()).toMatch(/planned/);
    await conv.getByText("The plan is carried out.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    // Accept edits let the write run unasked: the plan was the only request.
    expect(await conv.locator('[data-kind="input"]').count()).toBe(1);
    await screenshot(page, "plan-approved");
  });

  test("queued follow-ups: the strip shows one, edited in place, then deleted", async () => {
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
    const queue = await getJson(page, `/sessions/${session}/queue`);
    expect(queue.runs.map((r: { prompt: string }) => r.prompt)).toEqual(["edited follow-up"]);
    await screenshot(page, "queue-edited");
    await strip.getByRole("button", { name: "Delete" }).click();
    await strip.waitFor({ state: "detached", timeout: 30_000 });
    const after = await getJson(page, `/sessions/${session}/queue`);
    expect(after.runs).toEqual([]);
    await page.getByTestId("cancel").click();
    await page.locator('.session-head [data-status="canceled"]').waitFor({ timeout: LONG });
  });

  test("composer options and scheduled tasks (when this server has them)", async () => {
    await page.goto(WEB_URL);
    await page.getByRole("button", { name: "Options" }).click();
    const modes = await page.getByTestId("permission-mode").locator("option").allInnerTexts();
    expect(modes.some((m) => m.startsWith("Plan")), `modes: ${modes}`).toBe(true);
    await screenshot(page, "composer-options");
    const scheduled = await probe(page, "/scheduled-tasks");
    await page.goto(`${WEB_URL}/scheduled`);
    expect(routeMissing(scheduled), "the server must serve /api/v1/scheduled-tasks").toBe(false);
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

  test("capabilities: a command and a preset made in the Capabilities screen, a task with them", async () => {
    const commands = await probe(page, "/slash-commands");
    await page.goto(`${WEB_URL}/capabilities`);
    await page.getByRole("heading", { name: "Capabilities" }).waitFor();
    const tab = (name: string) => page.getByRole("tablist", { name: "Capability kinds" }).getByRole("tab", { name });
    expect(routeMissing(commands), "the server must serve /api/v1/slash-commands").toBe(false);

    // A skill uploaded as a zip: listed with its files, downloadable; an archive without a
    // SKILL.md is refused with the server's reason.
    const skillDir = mkdtempSync(join(tmpdir(), "workcell-e2e-skill-"));
    const zip = (file: string, entries: Record<string, string>) =>
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
    expect(await skillRow.innerText()).toMatch(/Says hello for the browser test/);
    expect(await skillRow.innerText()).toMatch(/2 files/);
    await skillRow.getByRole("button", { name: "Files" }).click();
    await skillRow.getByRole("list", { name: "Files" }).getByText("hello.sh").waitFor();
    const download = await skillRow.getByRole("link", { name: "Download" }).getAttribute("href");
    const fetched = await page.evaluate(async (href) => {
      const r = await fetch(href!);
      return { status: r.status, type: r.headers.get("content-type"), magic: Array.from(new Uint8Array(await r.arrayBuffer()).slice(0, 2)) };
    }, download);
    expect(fetched).toEqual({ status: 200, type: "application/zip", magic: [0x50, 0x4b] });
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
    expect(await cmdRow.innerText()).toMatch(/\/e2e-check \[what\]/);
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
    expect(await presetRow.innerText()).toMatch(/1 command/);
    expect(await presetRow.innerText()).toMatch(/prompt template/);

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
    expect(await suggestions.innerText()).toMatch(/Checks what it is given/);
    await screenshot(page, "composer-preset-and-suggestions");
    await page.keyboard.press("Enter");
    await suggestions.waitFor({ state: "detached" });
    expect(await prompt.inputValue()).toBe("/e2e-check ");
    await prompt.pressSequentially("some args");
    expect(await prompt.inputValue(), "the typed arguments").toBe("/e2e-check some args");
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
    const sent = (await modelRequests()).filter((r) => r.scenario === "web_command").map((r) => JSON.stringify(r.body));
    expect(sent.length, "no request answered by the web_command scenario").toBeGreaterThan(0);
    expect(
      sent.some((b) => b.includes("Check these **arguments**: some args")),
      `the command's body with $ARGUMENTS expanded; the model was sent: ${sent.map((b) => (b.match(/Check these[^"\\]*/) ?? ["(no body)"])[0]).join(" | ")}`,
    ).toBe(true);
    expect(sent.some((b) => b.includes("Keep the answer to one line.")), "the preset's prompt template").toBe(true);
  });

  test("a subagent made in the Capabilities screen: its work nests under the Task call", async () => {
    const subagents = await probe(page, "/subagents");
    expect(routeMissing(subagents), "the server must serve /api/v1/subagents").toBe(false);
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
    expect(await task.locator(".tool-head").innerText()).toMatch(/e2e-helper: Check the helper/);
    // The subagent's tool call (with its output) is folded under the call, not in the main flow.
    const helperOutput = '[data-tool="Bash"] .terminal-out';
    expect(await conv.locator(helperOutput, { hasText: "helper-output" }).count(), "the subagent's call is folded").toBe(0);
    const nested = task.getByTestId("subagent-events");
    const toggle = nested.getByRole("button", { name: /Subagent: \d+ events?/ });
    expect(await toggle.getAttribute("aria-expanded")).toBe("false");
    await screenshot(page, "subagent-folded");
    await toggle.click();
    await nested.locator(helperOutput, { hasText: "helper-output" }).waitFor();
    expect(await conv.locator(helperOutput, { hasText: "helper-output" }).count()).toBe(1);
    await screenshot(page, "subagent-expanded");
  });

  // Secrets, the model catalog and projects. A secret's value goes to the server once and never
  // comes back: not in the list, not in any answer, not in the page.
  const E2E_SECRET = "E2E_TOKEN";
  const secretValue = `e2e-secret-value-${Date.now()}-wxyz`;
  const replacedValue = `e2e-replaced-value-${Date.now()}-abcd`;
  /** Every answer's body from now on (read as text; answers without one are skipped). */
  const recordAnswers = () => {
    const bodies: Promise<{ url: string; text: string } | null>[] = [];
    const onResponse = (r: Response) =>
      bodies.push(
        r.text().then(
          (text) => ({ url: r.url(), text }),
          () => null,
        ),
      );
    page.on("response", onResponse);
    return async () => {
      page.off("response", onResponse);
      return (await Promise.all(bodies)).filter((a): a is { url: string; text: string } => a !== null);
    };
  };
  /** Asserts that no value appears in the page: its HTML, the fields' values, or the answers. */
  const expectNowhere = async (values: string[], answers: { url: string; text: string }[]) => {
    const html = await page.content();
    const fields = await page.locator("input, textarea").evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    for (const v of values) {
      expect(html.includes(v), "a secret's value is in the page's HTML").toBe(false);
      expect(fields.some((f) => f.includes(v)), "a secret's value is left in a field").toBe(false);
      const leaked = answers.filter((a) => a.text.includes(v)).map((a) => a.url);
      expect(leaked, "a secret's value came back in an answer").toEqual([]);
    }
  };

  test("secrets: one added shows only its last 4 characters; replaced; its values appear nowhere afterwards", async () => {
    const secrets = await probe(page, "/secrets");
    expect(routeMissing(secrets), "the server must serve /api/v1/secrets").toBe(false);
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
    expect(await name.inputValue()).toBe(E2E_SECRET);
    const value = form.getByLabel("Value");
    expect(await value.getAttribute("type")).toBe("password");
    await value.fill(secretValue);
    await form.getByLabel("Description").fill("Token for the browser test");
    await screenshot(page, "secrets-new");
    await form.getByRole("button", { name: "Create secret" }).click();
    await form.waitFor({ state: "detached" });
    const row = page.getByTestId("secret-list").locator(`li[data-name="${E2E_SECRET}"]`);
    await row.waitFor();
    expect(await row.getByTestId("secret-last4").innerText()).toBe("••••wxyz");
    expect(await row.innerText()).toMatch(/Token for the browser test/);
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
    expect(await row.getByTestId("secret-last4").innerText()).toBe("••••abcd");
    await screenshot(page, "secrets-listed");
    await expectNowhere([secretValue, replacedValue], await answers());
    const listed = JSON.parse((await page.evaluate(async () => (await fetch("/api/v1/secrets")).text())) || "{}");
    expect(
      listed.secrets
        .filter((s: { name: string }) => s.name === E2E_SECRET)
        .map((s: { last4: string; system: boolean }) => [s.last4, s.system, Object.keys(s).some((k) => /value/i.test(k))]),
    ).toEqual([["abcd", false, false]]);
  });

  test("the composer's model picker lists the catalog, the token picker the secret; the picked model reaches the model", async () => {
    const models = await probe(page, "/models");
    expect(routeMissing(models), "the server must serve /api/v1/models").toBe(false);
    expect(models.status, models.body).toBe(200);
    const catalog = JSON.parse(models.body) as {
      default_model: string | null;
      models: { id: string; label?: string | null; provider: string }[];
    };
    expect(catalog.models.length, "the catalog lists no model").toBeGreaterThan(0);
    const answers = recordAnswers();
    await page.goto(WEB_URL);
    await page.getByRole("button", { name: "Options" }).click();
    const picker = page.getByTestId("model-picker");
    await picker.locator(`option[value="${catalog.models[0]!.id}"]`).waitFor({ state: "attached" });
    const options = await picker
      .locator("option")
      .evaluateAll((os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, text: o.textContent ?? "" })));
    // First the server's default (named), then every model of the catalog, in its order.
    expect(options[0]!.value).toBe("");
    expect(options[0]!.text.startsWith("Server default"), options[0]!.text).toBe(true);
    if (catalog.default_model) expect(options[0]!.text.includes("("), `the default is named: ${options[0]!.text}`).toBe(true);
    expect(options.slice(1).map((o) => o.value)).toEqual(catalog.models.map((m) => m.id));
    expect(options.slice(1).map((o) => o.text)).toEqual(catalog.models.map((m) => m.label || m.id));
    // The repository token: picked by name among the user's secrets (and the system's).
    const token = page.getByTestId("token-secret");
    await token.locator(`option[value="${E2E_SECRET}"]`).waitFor({ state: "attached" });
    expect(await token.isDisabled(), "no token without a repository").toBe(true);
    await page.getByLabel("Git repository").fill("https://example.com/owner/repo.git");
    await token.selectOption(E2E_SECRET);
    await page.getByLabel("Git repository").fill("");
    await screenshot(page, "composer-model-picker");
    // A model other than the default when the catalog has one, served by the manager's own upstream.
    const own = catalog.models.filter((m) => m.provider === "anthropic");
    const chosen = (own.find((m) => m.id !== catalog.default_model) ?? own[0] ?? catalog.models[0]!).id;
    await picker.selectOption(chosen);
    const marker = `picked-model-${Date.now()}`;
    const session = await submitTask(page, `[scenario:web_first_token] ${marker}`);
    await page.getByTestId("conversation").getByText("First token.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    const detail = await getJson(page, `/sessions/${session}`);
    expect(detail.runs[0].model).toBe(chosen);
    const sent = (await modelRequests()).filter((r) => JSON.stringify(r.body).includes(marker));
    expect(sent.length, "no model request carried the task").toBeGreaterThan(0);
    expect(
      sent.some((r) => r.body.model === chosen),
      `the picked model ${chosen}; the model was asked as ${sent.map((r) => r.body.model).join(", ")}`,
    ).toBe(true);
    await expectNowhere([secretValue, replacedValue], await answers());
  });

  test("projects: one created and chosen in the switcher; a task sent in it is listed under it, not under another", async () => {
    const projects = await probe(page, "/projects");
    expect(routeMissing(projects), "the server must serve /api/v1/projects").toBe(false);
    const switcher = page.getByTestId("project-switcher");
    const list = page.getByTestId("session-list");
    const chosenLabel = () => switcher.evaluate((s) => (s as HTMLSelectElement).options[(s as HTMLSelectElement).selectedIndex]?.textContent);
    const createProject = async (name: string, description: string) => {
      const form = page.getByRole("form", { name: "New project" });
      await form.getByLabel("Name", { exact: true }).fill(name);
      await form.getByLabel("Description").fill(description);
      await form.getByRole("button", { name: "Create project" }).click();
      await page.getByTestId("project-name").getByText(name, { exact: true }).waitFor();
      return new URL(page.url()).pathname.split("/projects/")[1]!;
    };

    // One from the projects page, one from the switcher's "New project…"; each new one is chosen.
    await page.goto(`${WEB_URL}/projects`);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.getByRole("button", { name: "New project" }).click();
    const alpha = await createProject("e2e-alpha", "The browser test's first project");
    expect(await chosenLabel()).toBe("e2e-alpha");
    await switcher.selectOption({ label: "+ New project…" });
    await page.getByRole("form", { name: "New project" }).waitFor();
    const beta = await createProject("e2e-beta", "The second one");
    expect(await chosenLabel()).toBe("e2e-beta");
    expect(alpha).not.toBe(beta);

    // Alpha's page: defaults (the model picker lists the catalog), instructions and a file.
    await switcher.selectOption({ label: "e2e-alpha" });
    await page.getByRole("link", { name: "Open the project e2e-alpha" }).click();
    await page.getByTestId("project-name").getByText("e2e-alpha", { exact: true }).waitFor();
    await page.getByRole("tab", { name: "Defaults" }).click();
    const defaults = page.getByRole("form", { name: "Project defaults" });
    const catalog = await getJson(page, "/models");
    const projectModel: string = catalog.models[catalog.models.length - 1].id;
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
    const saved = await getJson(page, `/projects/${alpha}`);
    expect(saved.defaults.model).toBe(projectModel);
    expect(saved.defaults.permission_mode).toBe("acceptEdits");
    expect(saved.instructions).toBe("# Alpha\n\nKeep answers short.");
    expect(saved.files.map((f: { name: string }) => f.name)).toEqual(["alpha-notes.txt"]);

    // A task in alpha: the composer says so, the session belongs to it.
    await page.getByTestId("project-new-task").click();
    await page.getByTestId("composer-project").getByText("e2e-alpha").waitFor();
    await page.getByRole("button", { name: "Options" }).click();
    expect(await page.getByTestId("model-picker").evaluate((s) => (s as HTMLSelectElement).options[0]?.textContent)).toMatch(/^Project default/);
    const session = await submitTask(page, "[scenario:web_first_token] a task in the alpha project");
    await page.getByTestId("session-project").getByText("e2e-alpha").waitFor();
    await page.getByTestId("conversation").getByText("First token.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    const detail = await getJson(page, `/sessions/${session}`);
    expect(detail.project_id).toBe(alpha);
    // The project's defaults filled what the task left out.
    expect(detail.runs[0].model).toBe(projectModel);
    expect(detail.runs[0].permission_mode).toBe("acceptEdits");
    const link = list.locator(`a[href="/sessions/${session}"]`);
    await link.waitFor();
    await screenshot(page, "project-session-listed");

    // Not under beta; back under all sessions; on alpha's page.
    await switcher.selectOption({ label: "e2e-beta" });
    await page.getByText("No sessions in this project yet.").waitFor();
    expect(await link.count(), "alpha's session is listed under beta").toBe(0);
    await screenshot(page, "project-beta-empty");
    await switcher.selectOption({ label: "All sessions" });
    await link.waitFor();
    await switcher.selectOption({ label: "e2e-alpha" });
    await link.waitFor();
    expect(await list.locator("a.session-link").count(), "only alpha's session under alpha").toBe(1);
    const ids = async (id: string) =>
      (await getJson(page, `/sessions?limit=50&project_id=${id}`)).sessions.map((s: { id: string }) => s.id);
    expect(await ids(alpha)).toEqual([session]);
    expect(await ids(beta)).toEqual([]);
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
    expect(await chosenLabel(), "the deleted project is no longer chosen").toBe("All sessions");
    const gone = await page.evaluate(async (id) => (await fetch(`/api/v1/sessions/${id}`)).status, session);
    expect(gone).toBe(404);
    // Beta has no sessions: deleted at the first confirmation.
    await page.goto(`${WEB_URL}/projects/${beta}`);
    await page.getByRole("button", { name: "Delete…" }).click();
    await panel.getByRole("button", { name: "Delete the project", exact: true }).click();
    await page.waitForURL("**/projects");
    expect(await switcher.locator("option").evaluateAll((os) => os.map((o) => o.textContent))).toEqual(["All sessions", "+ New project…"]);
  });

  test("account: an API token named e2e with the default scopes is created, shown once, listed, works, then revoked", async () => {
    await page.getByRole("link", { name: "Account", exact: true }).click();
    await page.getByRole("heading", { name: "Account", exact: true }).waitFor();
    expect(await page.getByTestId("account-email").innerText()).toBe(email);
    await page.getByRole("button", { name: "New token" }).click();
    const form = page.getByRole("form", { name: "New API token" });
    await form.getByLabel("Name", { exact: true }).fill("e2e");
    const defaults = await form.locator('input[name="scope"]:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(defaults).toEqual(["tasks:write", "sessions:read", "files:read"]);
    await form.getByRole("button", { name: "Create token" }).click();
    const shown = page.getByTestId("new-token");
    const token = await shown.getByRole("textbox").inputValue();
    expect(token).toMatch(/^wc_/);
    const row = page.getByTestId("token-list").locator('tr[data-name="e2e"]');
    await row.waitFor();
    expect(await row.innerText()).toMatch(new RegExp(token.slice(0, 7)));
    await screenshot(page, "account-token");
    const withToken = (t: string) =>
      page.evaluate(
        async (t) => (await fetch("/api/v1/sessions", { credentials: "omit", headers: { authorization: `Bearer ${t}` } })).status,
        t,
      );
    expect(await withToken(token)).toBe(200);
    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: "Revoke e2e" }).click();
    await row.waitFor({ state: "detached" });
    expect(await withToken(token)).toBe(401);
  });

  test("the proxy refuses the internal API and forwards errors readably", async () => {
    for (const path of ["/api/v1/internal/runs/claim", "/api/v1/%69nternal/runs/claim", "/api/v1/INTERNAL/runs/claim"]) {
      const r = await fetch(`${WEB_URL}${path}`, { method: "POST", headers: { "x-internal-token": "guess" } });
      expect(r.status, path).toBe(404);
      expect((await r.json()).error.code, path).toBe("not_found");
    }
    // A backend error passes through as the backend's JSON error body.
    const r = await fetch(`${WEB_URL}/api/v1/sessions/not-a-uuid`);
    expect(r.status >= 400 && r.status < 500, `status ${r.status}`).toBe(true);
    expect((await r.json()).error.message).toBeTruthy();
  });

  test("the proxy forwards each browser's own address: a lockout stays with its client", async () => {
    // Two clients of the web server, from 127.0.0.2 and 127.0.0.3. The first fails 20 logins
    // (LOGIN_IP_MAX_FAILURES) claiming to be the second in every header it can; the backend must
    // lock out the first (the socket peer the web server saw) and not the second.
    const login = (from: string, mail: string, password: string, forged: Record<string, string> = {}) =>
      nodeRequest(`${WEB_URL}/api/v1/auth/login`, {
        method: "POST",
        localAddress: from,
        headers: { "content-type": "application/json", ...forged },
        body: JSON.stringify({ email: mail, password }),
      });
    const blame = { "x-forwarded-for": "127.0.0.3", "x-workcell-client-ip": "127.0.0.3", "x-real-ip": "127.0.0.3" };
    for (let i = 0; i < 20; i++) {
      const r = await login("127.0.0.2", `nobody-${i}-${Date.now()}@example.com`, "wrong password!", blame);
      expect(r.status, `failure ${i + 1}: ${r.body}`).toBe(401);
    }
    const locked = await login("127.0.0.2", email, "correct horse battery staple", blame);
    expect(locked.status, `the failing client is locked out: ${locked.body}`).toBe(429);
    expect(JSON.parse(locked.body).error.code).toBe("rate_limited");
    const other = await login("127.0.0.3", email, "correct horse battery staple");
    expect(other.status, `the other client still logs in: ${other.body}`).toBe(200);
  });

  test("the backend's WebSocket refuses a foreign page and accepts the web UI's", async () => {
    const ws = `${env("BACKEND_URL")}/api/v1/ws`;
    const foreign = await handshake(ws, "http://evil.example");
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error.code).toBe("forbidden_origin");
    expect((await handshake(ws, new URL(WEB_URL).origin)).status).toBe(101);
    expect((await handshake(ws, undefined)).status).toBe(101);
  });

  test("phone-sized layout and dark theme", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("button", { name: "Switch between light and dark theme" }).click();
    await screenshot(page, "phone-dark");
    await page.getByRole("button", { name: "Open the menu" }).click();
    await page.getByTestId("session-list").waitFor();
    await page.waitForTimeout(400); // the slide-in transition
    await screenshot(page, "phone-menu");
  });

  // Issue 17: finding and understanding past work.

  test("search: Ctrl+K finds an earlier session's answer; its hit opens that session at the message", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(WEB_URL);
    await page.getByTestId("prompt").waitFor();
    // Words of the first task's answer ("The report is ready in `report.md`."), found nowhere else.
    const query = "report is ready";
    const found = await getJson(page, `/search?q=${encodeURIComponent(query)}&limit=20`);
    expect(found.hits, `the search API answers hits: ${JSON.stringify(found)}`).toBeInstanceOf(Array);
    const expected = (found.hits as { session_id: string; kind: string; seq: number | null; run_id: string | null }[]).find(
      (h) => h.session_id === answerSession && h.kind === "assistant",
    );
    expect(expected, `the answer among the hits: ${JSON.stringify(found.hits)}`).toBeTruthy();
    expect(expected!.seq, "an answer's hit names its event").not.toBeNull();

    await page.keyboard.press("Control+k");
    const dialog = page.getByTestId("search-dialog");
    await dialog.waitFor();
    await expect(dialog.getByTestId("search-input")).toBeFocused();
    await dialog.getByTestId("search-input").pressSequentially(query);
    const hit = dialog.locator('[role="option"][data-kind="assistant"]', { hasText: "report is ready" });
    await hit.first().waitFor({ timeout: 30_000 });
    // The matching words are marked.
    expect(await hit.first().locator("mark").count()).toBeGreaterThan(0);
    await screenshot(page, "search-dialog");
    await hit.first().click();
    await page.waitForURL(`**/sessions/${answerSession}?seq=${expected!.seq}`);
    await dialog.waitFor({ state: "detached" });
    const message = page.getByTestId("conversation").getByText("The report is ready in", { exact: false });
    await expect(message).toBeInViewport({ timeout: 30_000 });
    await screenshot(page, "search-landed");
  });

  test("Chinese: the language picker switches the UI to 简体中文; a task runs and answers; back to English", async () => {
    const picker = page.getByTestId("language-picker");
    await page.goto(WEB_URL);
    await picker.selectOption("zh");
    await expect(page.locator("html")).toHaveAttribute("lang", "zh");
    const nav = page.getByRole("navigation").first();
    await nav.getByRole("link", { name: "定时任务" }).waitFor({ timeout: 30_000 });
    await nav.getByRole("link", { name: "用量" }).waitFor();
    expect(await nav.getByRole("link", { name: "Scheduled tasks" }).count(), "no English nav label left").toBe(0);
    await screenshot(page, "chinese-home");
    // The choice is kept across a reload (a cookie the server reads).
    await page.reload();
    await nav.getByRole("link", { name: "定时任务" }).waitFor();
    expect(await picker.inputValue()).toBe("zh");

    const marker = `chinese-ui-${Date.now()}`;
    await submitTask(page, `[scenario:web_first_token] 用中文界面运行的任务 ${marker}`);
    await page.getByTestId("conversation").getByText("First token.").waitFor({ timeout: LONG });
    await page.locator('.session-head [data-status="completed"]').waitFor({ timeout: LONG });
    await page.getByRole("tab", { name: "对话" }).waitFor();
    await screenshot(page, "chinese-session");

    await picker.selectOption("en");
    await expect(page.locator("html")).toHaveAttribute("lang", "en");
    await nav.getByRole("link", { name: "Scheduled tasks" }).waitFor({ timeout: 30_000 });
    await page.getByRole("tab", { name: "Conversation" }).waitFor();
    expect(await nav.getByRole("link", { name: "定时任务" }).count()).toBe(0);
  });

  test("usage: /usage draws its charts and totals this account's runs and their cost", async () => {
    // What this test ran, from the sessions themselves: every run of every session left (a
    // deleted session's runs count nowhere), and each run's cost and tokens as its agent reported
    // them (its last `result` event).
    type Listed = { sessions: { id: string }[]; next_cursor: string | null };
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const listed: Listed = await getJson(page, `/sessions?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      ids.push(...listed.sessions.map((s) => s.id));
      cursor = listed.next_cursor;
    } while (cursor);
    let runs = 0;
    const reported = new Map<string, { cost: number; input: number; output: number }>();
    for (const id of ids) {
      runs += (await getJson(page, `/sessions/${id}`)).runs.length;
      let after = 0;
      for (;;) {
        const events = await getJson(page, `/sessions/${id}/events?after=${after}&limit=1000`);
        for (const e of events.events) {
          if (e.type === "result")
            reported.set(e.run_id, { cost: e.payload.total_cost_usd, input: e.payload.usage.input_tokens, output: e.payload.usage.output_tokens });
        }
        if (!events.has_more) break;
        after = events.next_after;
      }
    }
    const cost = [...reported.values()].reduce((sum, r) => sum + r.cost, 0);
    const input = [...reported.values()].reduce((sum, r) => sum + r.input, 0);
    const output = [...reported.values()].reduce((sum, r) => sum + r.output, 0);
    expect(runs, "this test ran tasks").toBeGreaterThan(10);

    // The server's report agrees (the page asks for the same days in the browser's zone).
    const tz = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    const report = await getJson(page, `/usage?group_by=day&tz=${encodeURIComponent(tz)}`);
    expect(report.totals.runs, JSON.stringify(report.totals)).toBe(runs);
    expect(report.totals.cost_usd).toBeCloseTo(cost, 9);
    expect(report.totals.input_tokens).toBe(input);
    expect(report.totals.output_tokens).toBe(output);
    expect(report.all_users).toBe(false);

    await page.getByRole("navigation").first().getByRole("link", { name: "Usage" }).click();
    await page.waitForURL("**/usage");
    await page.getByRole("heading", { name: "Usage", exact: true }).waitFor();
    const totals = page.getByTestId("usage-totals");
    await totals.waitFor({ timeout: 30_000 });
    const expectedText = await page.evaluate(
      ({ runs, cost }) => ({
        runs: new Intl.NumberFormat("en", { maximumFractionDigits: 0 }).format(runs),
        cost: new Intl.NumberFormat("en", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: cost > 0 && cost < 1 ? 4 : 2 }).format(cost),
      }),
      { runs, cost: report.totals.cost_usd as number },
    );
    await expect(totals.getByTestId("usage-total-runs")).toHaveText(expectedText.runs);
    await expect(totals.getByTestId("usage-total-cost")).toHaveText(expectedText.cost);

    // The charts are drawn: each holds a canvas of some size with something painted on it.
    for (const chart of ["usage-chart-cost", "usage-chart-tokens", "usage-chart-runs"]) {
      const canvas = page.getByTestId(chart).locator("canvas").first();
      await canvas.waitFor({ timeout: 30_000 });
      const drawn = await canvas.evaluate((c) => {
        const el = c as HTMLCanvasElement;
        const data = el.getContext("2d")?.getImageData(0, 0, el.width, el.height).data;
        let painted = 0;
        for (let i = 3; data && i < data.length; i += 4) if (data[i]! > 0) painted += 1;
        return { width: el.width, height: el.height, painted };
      });
      expect(drawn.width, chart).toBeGreaterThan(100);
      expect(drawn.height, chart).toBeGreaterThan(50);
      expect(drawn.painted, `${chart}: nothing painted`).toBeGreaterThan(0);
    }
    // Today's runs are in the day table.
    await page.getByTestId("usage-group-day").click();
    await page.getByTestId("usage-table").waitFor();
    await screenshot(page, "usage");
  });

  test("no uncaught errors in the page", async () => {
    expect(consoleErrors, "uncaught errors in the page").toEqual([]);
  });
});
