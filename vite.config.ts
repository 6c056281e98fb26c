import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The studio is a static site: `vite build` writes dist/, `vite preview` serves it.
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
});
