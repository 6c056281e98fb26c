import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The studio is a static site: `vite build` writes dist/ (or $COCKTAIL_DIST, so parallel test runs
// do not overwrite each other's build), `vite preview` serves it.
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true, outDir: process.env.COCKTAIL_DIST ?? 'dist' },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
});
