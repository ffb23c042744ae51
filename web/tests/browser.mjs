// The benchmark's browser (tests/bench.mjs): Debian's Chromium driven by playwright-core (no
// browser download), and small helpers. The end-to-end test runs under @playwright/test instead
// (playwright.config.ts, tests/e2e/).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const WEB_URL = must("WEB_URL");
export const ARTIFACTS = must("ARTIFACTS");

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through tests/e2e/stack.sh)`);
  return v;
}

export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), "workcell-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  // The profile goes with the browser (a run leaves nothing in /tmp).
  context.on("close", () => rmSync(userDataDir, { recursive: true, force: true }));
  return context;
}

let shot = 0;
/** Saves a numbered full-page screenshot into the artifacts directory. */
export async function screenshot(page, name) {
  shot += 1;
  const file = join(ARTIFACTS, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

/** Registers a fresh account through the UI and lands on the composer. */
export async function register(page) {
  const email = `web-e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await page.goto(WEB_URL);
  await page.waitForURL("**/login");
  await page.getByRole("tab", { name: "Register" }).click();
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill("correct horse battery staple");
  await page.getByTestId("auth-submit").click();
  await page.getByRole("heading", { name: "New task" }).waitFor();
  return email;
}

/** Submits a task from the home composer; returns the session id. */
export async function submitTask(page, prompt) {
  if (new URL(page.url()).pathname !== "/") await page.goto(WEB_URL);
  await page.getByTestId("prompt").fill(prompt);
  await page.getByTestId("submit").click();
  await page.waitForURL("**/sessions/*");
  return page.url().split("/sessions/")[1];
}
