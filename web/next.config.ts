import type { NextConfig } from "next";

// The API is reached through the same-origin proxy in src/app/api/v1/[...path]/route.ts, which
// reads BACKEND_URL at run time: nothing about the backend is baked into the build.
const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  productionBrowserSourceMaps: false,
};

export default nextConfig;
