// The browser test (tests/e2e/*.spec.ts) against the whole real stack, which tests/e2e/stack.sh
// starts and describes in the environment (WEB_URL, BACKEND_URL, LLM_URL, BACKEND_CTL, ARTIFACTS):
//
//   tests/e2e/stack.sh playwright        # or: npm run e2e
//
// One worker, the steps in order: they share one account and one stack and build on each other.
// Debian's Chromium (CHROMIUM_BIN, else /usr/bin/chromium); nothing is downloaded. A failed step
// keeps its trace (`node_modules/.bin/playwright show-trace test-results/<step>/trace.zip`) and a
// screenshot; the steps' named screenshots are in test-results/screenshots.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "tests/e2e",
  testMatch: "*.spec.ts",
  outputDir: "test-results",
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  reporter: "list",
  // A step waits up to two minutes for a scripted model turn, several times over.
  timeout: 10 * 60_000,
  expect: { timeout: 30_000 },
  use: {
    headless: true,
    viewport: { width: 1280, height: 900 },
    actionTimeout: 30_000,
    navigationTimeout: 30_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
});
