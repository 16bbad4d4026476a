import { defineConfig } from 'vitest/config';

// The bundle goes into the jar's classpath at io/edgefleet/console/ (see pom.xml); the controller
// serves it at / with the assets under /assets/.
// `npm run dev` proxies the API to a running controller: EDGEFLEET_URL=https://127.0.0.1:8443.
const controller = process.env.EDGEFLEET_URL ?? 'https://127.0.0.1:8443';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'target/classes/io/edgefleet/console',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': { target: controller, secure: false, changeOrigin: true },
    },
  },
  preview: {
    // The policy the controller serves the console with: `npm run build && npm run preview`
    // shows what would break under it.
    headers: {
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    },
    proxy: {
      '/api': { target: controller, secure: false, changeOrigin: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
