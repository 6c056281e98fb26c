import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

// The studio is a static site: `vite build` writes dist/ (or $COCKTAIL_DIST, so parallel test runs
// do not overwrite each other's build), `vite preview` serves it.
//
// Offline: a service worker (vite-plugin-pwa, Workbox generateSW) precaches every file of the build,
// the engine worker and ONNX Runtime's wasm included, so after one visit the studio opens without a
// network. Models, task files, checkpoints and adapters live in IndexedDB, not in this cache.
export default defineConfig({
  plugins: [
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
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
});
