import type { NextConfig } from "next";
import createNextIntlPlugin from "next-intl/plugin";

// The UI's languages: the locale and messages of each request (cookie, else Accept-Language).
const withNextIntl = createNextIntlPlugin("./src/i18n/request.ts");

// The API is reached through the same-origin proxy in src/app/api/v1/[...path]/route.ts, which
// reads BACKEND_URL at run time: nothing about the backend is baked into the build.
const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  productionBrowserSourceMaps: false,
  // The container image (docker/web.Dockerfile) ships the self-contained server only; local runs
  // (`next start` in scripts/dev.sh and the tests) use the regular build.
  output: process.env.NEXT_STANDALONE === "1" ? "standalone" : undefined,
};

export default withNextIntl(nextConfig);
