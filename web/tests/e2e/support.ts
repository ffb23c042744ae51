// Helpers of the browser test (run through tests/e2e/stack.sh, which starts the stack and sets
// WEB_URL, BACKEND_URL, LLM_URL, BACKEND_CTL and ARTIFACTS).
import { test, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";

/** How long a step waits for the agent (a scripted model turn through the real CLI). */
export const LONG = 120_000;

/** An environment variable stack.sh sets. */
export function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through tests/e2e/stack.sh)`);
  return v;
}

export const WEB_URL = process.env.WEB_URL ?? "";

let shot = 0;
/** Saves a numbered full-page screenshot into the artifacts directory (and attaches it to the
 * step's result). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const testInfo = test.info();
  shot += 1;
  const dir = process.env.ARTIFACTS || testInfo.project.outputDir;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await testInfo.attach(name, { path: file, contentType: "image/png" });
}

/** Registers a fresh account through the UI and lands on the composer. */
export async function register(page: Page): Promise<string> {
  const email = `web-e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await page.goto(env("WEB_URL"));
  await page.waitForURL("**/login");
  await page.getByRole("tab", { name: "Register" }).click();
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill("correct horse battery staple");
  await page.getByTestId("auth-submit").click();
  await page.getByRole("heading", { name: "New task" }).waitFor();
  return email;
}

/** Submits a task from the home composer; returns the session id. */
export async function submitTask(page: Page, prompt: string): Promise<string> {
  if (new URL(page.url()).pathname !== "/") await page.goto(env("WEB_URL"));
  await page.getByTestId("prompt").fill(prompt);
  await page.getByTestId("submit").click();
  await page.waitForURL("**/sessions/*");
  return sessionIdOf(page.url());
}

/** The session id of a `/sessions/{id}` URL (without its query or fragment). */
export function sessionIdOf(url: string): string {
  return new URL(url).pathname.split("/sessions/")[1] ?? "";
}

export interface Probe {
  status: number;
  body: string;
}

/** Whether a probe's answer says the server has no such route (by its error code, never its message). */
export function routeMissing(probe: Probe): boolean {
  if (probe.status !== 404) return false;
  try {
    return JSON.parse(probe.body)?.error?.code === "route_not_found";
  } catch {
    return false;
  }
}

/** GETs `/api/v1{path}` from the page (with its session cookie): status and body text. */
export function probe(page: Page, path: string): Promise<Probe> {
  return page.evaluate(async (p) => {
    const r = await fetch(`/api/v1${p}`);
    return { status: r.status, body: await r.text() };
  }, path);
}

/** GETs `/api/v1{path}` from the page and parses its JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function getJson(page: Page, path: string): Promise<any> {
  return page.evaluate(async (p) => (await fetch(`/api/v1${p}`)).json(), path);
}

/** The requests the scripted model received (its admin endpoint). */
export async function modelRequests(): Promise<{ scenario?: string | null; body: { model?: string } & Record<string, unknown> }[]> {
  return (await fetch(`${env("LLM_URL")}/_admin/requests`)).json();
}

/** An HTTP request from a chosen local address (fetch cannot bind one). */
export function nodeRequest(
  url: string,
  { method = "GET", localAddress, headers = {}, body }: { method?: string; localAddress?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress, headers }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A WebSocket handshake with `origin` (none when undefined): 101, or the refusal's status and body. */
export function handshake(url: string, origin: string | undefined): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    };
    if (origin) headers.origin = origin;
    const req = http.get(url, { headers });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: "" });
    });
    req.on("response", (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on("error", reject);
  });
}
