import { defineConfig } from "vitest/config";

// Tauri serves ui/dist from its own protocol; the dev server is only for `cargo tauri dev`.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, sourcemap: false },
  test: { environment: "jsdom", globals: true, include: ["src/**/*.test.ts"] },
});
