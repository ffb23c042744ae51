import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

const alias = { "@": fileURLToPath(new URL("./src", import.meta.url)) };

// Logic tests (`*.test.ts`) run in Node; component tests (`*.test.tsx`, Testing Library) in jsdom.
export default defineConfig({
  resolve: { alias },
  esbuild: { jsx: "automatic" },
  test: {
    projects: [
      { resolve: { alias }, test: { name: "logic", include: ["src/**/*.test.ts"], environment: "node" } },
      {
        resolve: { alias },
        esbuild: { jsx: "automatic" },
        test: { name: "components", include: ["src/**/*.test.tsx"], environment: "jsdom" },
      },
    ],
  },
});
