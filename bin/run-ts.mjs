#!/usr/bin/env node
// Runs a TypeScript entry (benchmarks, scripts) with the same loaders as the `cocktail` command.
import { register } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { register as registerTypeScript } from 'tsx/esm/api';

registerTypeScript();
register('./raw-loader.mjs', import.meta.url);
const [entry] = process.argv.slice(2);
if (!entry) {
  console.error('usage: run-ts.mjs <file.ts>');
  process.exit(2);
}
await import(pathToFileURL(resolve(entry)).href);
