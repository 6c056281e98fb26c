import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';
import { contentSecurityPolicy, hubEndpointsFromEnv } from './app/studio/csp.ts';

// The Content-Security-Policy (app/studio/csp.ts): in the built index.html as a <meta>, and as a header
// from `vite preview` so the workers are governed too. Not in `vite dev`, whose hot reload injects inline scripts.
const hubEndpoints = hubEndpointsFromEnv(process.env.COCKTAIL_HUB_ENDPOINTS);
const cspMeta: Plugin = {
  name: 'cocktail-csp-meta',
  apply: 'build',
  transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy(hubEndpoints, { forMeta: true }) }, injectTo: 'head-prepend' }],
};

// The studio is a static site: `vite build` writes dist/ (or $COCKTAIL_DIST, so parallel test runs
// do not overwrite each other's build), `vite preview` serves it.
//
// Offline: a service worker (vite-plugin-pwa, Workbox generateSW) precaches every file of the build,
// the engine worker and ONNX Runtime's wasm included, so after one visit the studio opens without a
// network. Models, task files, checkpoints and adapters live in IndexedDB, not in this cache.
export default defineConfig({
  plugins: [
    cspMeta,
    react(),
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script-defer',
      includeAssets: ['favicon.svg'],
      manifest: {
        name: 'Cocktail Studio',
        short_name: 'Cocktail',
        description: 'Multi-task LoRA fine-tuning in your browser, on your own GPU, through WebGPU.',
        theme_color: '#c2374a',
        background_color: '#f7f6f3',
        display: 'standalone',
        icons: [{ src: '/favicon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
      },
      workbox: {
        globPatterns: ['**/*.{js,mjs,css,html,svg,wasm,json,webmanifest}'],
        // ONNX Runtime's wasm is tens of MiB; without it "verify engine" would not work offline.
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
        // Source maps are for debugging, not for running the studio offline.
        globIgnores: ['**/*.map'],
        navigateFallback: '/index.html',
        cleanupOutdatedCaches: true,
        // The first visit is served by the network; take control at once so it is cached for the next.
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, outDir: process.env.COCKTAIL_DIST ?? 'dist' },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true, headers: { 'Content-Security-Policy': contentSecurityPolicy(hubEndpoints) } },
});
