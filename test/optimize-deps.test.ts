import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import config from '../vitest.config.ts';

/**
 * Vite scans the test files for dependencies to pre-bundle, but not the engine worker's imports: a
 * package the worker loads that is missing from the browser project's `optimizeDeps.include` is found
 * in the middle of a test, and Vite re-bundles and reloads the page, killing the worker ("The engine
 * worker stopped"). Whether the reload lands inside a test is a matter of timing, so a missing entry
 * passes on one machine and fails CI on another; this walks the worker's import graph instead.
 */
const ROOT = join(import.meta.dirname, '..');
const WORKER_ENTRY = 'workers/engine.worker.ts';
/** package.json "imports": what the browser build resolves each alias to. */
const BROWSER_ALIASES: Record<string, string> = { '#onnxruntime': 'onnxruntime-web/wasm' };

/** Static and dynamic imports that load code at run time (`import type` loads nothing). */
function importSpecifiers(source: string): string[] {
  const statements = /(?:^|\n)\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)'/g;
  const dynamic = /\bimport\(\s*'([^']+)'\s*\)/g;
  return [...source.matchAll(statements), ...source.matchAll(dynamic)].map((match) => match[1]!);
}

/** Package name of a bare specifier ('a/b' → 'a', '@s/a/b' → '@s/a'); subpath imports are kept whole. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function workerPackages(): { packages: Set<string>; files: number; nodeOnly: string[] } {
  const packages = new Set<string>();
  const nodeOnly: string[] = [];
  const seen = new Set<string>();
  const queue = [WORKER_ENTRY];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of importSpecifiers(readFileSync(join(ROOT, file), 'utf8'))) {
      if (specifier.includes('?')) continue; // asset URLs and raw text ('?url', '?raw') are not pre-bundled
      if (specifier.startsWith('.')) {
        queue.push(relative(ROOT, join(ROOT, dirname(file), specifier)));
      } else if (specifier.startsWith('node:')) {
        nodeOnly.push(`${file} imports ${specifier}`);
      } else {
        const aliased = BROWSER_ALIASES[specifier];
        packages.add(aliased ?? packageOf(specifier));
      }
    }
  }
  return { packages, files: seen.size, nodeOnly };
}

describe("the browser test project's pre-bundled dependencies", () => {
  it('include every package the engine worker imports, so Vite never reloads a page mid-test', () => {
    const browser = config.test?.projects?.find((project) => typeof project === 'object' && 'test' in project && project.test?.name === 'browser');
    const include = new Set((browser as { optimizeDeps?: { include?: string[] } }).optimizeDeps?.include ?? []);
    const { packages, files, nodeOnly } = workerPackages();
    expect(files).toBeGreaterThan(20); // the walk followed the worker's relative imports
    expect(packages).toContain('idb');
    expect(nodeOnly).toEqual([]);
    expect([...packages].filter((name) => !include.has(name)).sort()).toEqual([]);
  });
});
