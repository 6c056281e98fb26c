// Node module hooks for Vite's `?raw` imports (`import code from './x.wgsl?raw'`), so the CLI runs
// the same sources as the studio: the file's text becomes the module's default export.
import { readFile } from 'node:fs/promises';

export async function resolve(specifier, context, nextResolve) {
  if (!specifier.endsWith('?raw')) return nextResolve(specifier, context);
  const url = new URL(specifier, context.parentURL);
  return { url: url.href, shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  if (!url.endsWith('?raw')) return nextLoad(url, context);
  const path = new URL(url.slice(0, -'?raw'.length));
  const text = await readFile(path, 'utf8');
  return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
}
