// Builds the UI with known fake secrets in its environment (as a careless deployment would have
// them) and fails if any of them — or the names of the backend's secret settings — appears in
// what the browser downloads (`.next/static`). Run from web/: `node tests/bundle-check.mjs`.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const SECRETS = {
  SECRET_KEY: "bundle-check-secret-key-5c1b7e0f9a",
  ENCRYPTION_KEY: "bundle-check-encryption-key-6a0d3f8e2c",
  INTERNAL_API_TOKEN: "bundle-check-internal-token-8d2e4a61",
  S3_SECRET_KEY: "bundle-check-s3-secret-3f9c0b2d",
  S3_ACCESS_KEY: "bundle-check-s3-access-7a1e5c93",
  ANTHROPIC_API_KEY: "bundle-check-anthropic-key-0e6d2b84",
  ANTHROPIC_AUTH_TOKEN: "bundle-check-anthropic-token-94c1f7a2",
  OPENAI_API_KEY: "bundle-check-openai-key-2b8e6d15",
  DATABASE_URL: "postgresql://workcell:bundle-check-db-password-61f0@db.internal:5432/workcell",
  BACKEND_URL: "http://bundle-check-backend.internal:8000",
};
const NAMES = ["INTERNAL_API_TOKEN", "SECRET_KEY", "ENCRYPTION_KEY", "S3_SECRET_KEY", "ANTHROPIC_API_KEY", "DATABASE_URL", "BACKEND_URL"];
// A value counts as leaked even in part: the distinctive middle of each is searched for.
const needles = [
  ...Object.entries(SECRETS).map(([name, value]) => ({ what: `the value of ${name}`, text: value })),
  { what: "the database password", text: "bundle-check-db-password-61f0" },
  { what: "the backend's host", text: "bundle-check-backend.internal" },
  ...NAMES.map((n) => ({ what: `the name ${n}`, text: n })),
];

if (!process.argv.includes("--no-build")) {
  console.log("building the UI with fake secrets in the environment…");
  execFileSync("node_modules/.bin/next", ["build"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ...SECRETS, NEXT_TELEMETRY_DISABLED: "1" },
  });
}

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else yield p;
  }
}

let scanned = 0;
let bytes = 0;
const leaks = [];
for (const file of files(".next/static")) {
  const content = readFileSync(file, "latin1");
  scanned += 1;
  bytes += content.length;
  for (const n of needles) if (content.includes(n.text)) leaks.push(`${file}: ${n.what}`);
}
if (scanned === 0) {
  console.error("no files under .next/static: the build did not produce a browser bundle");
  process.exit(1);
}
if (leaks.length) {
  console.error(`secrets in the browser bundle:\n  ${leaks.join("\n  ")}`);
  process.exit(1);
}
console.log(`bundle check passed: ${scanned} files (${(bytes / 1024).toFixed(0)} KiB) under .next/static hold none of ${needles.length} secrets or names`);
