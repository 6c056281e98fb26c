#!/usr/bin/env node
// The `cocktail` command: runs app/cli/main.ts (TypeScript, through tsx) with the same sources as the studio.
import { register } from 'node:module';
import { register as registerTypeScript } from 'tsx/esm/api';

registerTypeScript();
// Registered last so it runs first: tsx would otherwise try to resolve `?raw` specifiers itself.
register('./raw-loader.mjs', import.meta.url);
const { main } = await import('../app/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
// Dawn keeps the event loop alive while a GPU object exists; the command is done.
process.exit();
