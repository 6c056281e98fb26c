import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * ENGINEERING.md §1: dependencies point one way. This reads every import of the engine's source
 * files (tests excluded: they may reach anywhere) and names each one that points the wrong way.
 */
const ROOT = resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) && !/test-support/.test(path) ? [path] : [];
  });
}

interface Import {
  file: string;
  target: string;
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: Import[] = [];
  for (const match of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"](\.[^'"]+)['"]/gms)) {
    found.push({ file, target: relative(ROOT, resolve(ROOT, file, '..', match[3]!)), typeOnly: match[2] !== undefined });
  }
  return found;
}

const under = (path: string, dirs: readonly string[]) => dirs.some((dir) => path === dir || path.startsWith(`${dir}/`));
const wrongWay = (from: readonly string[], to: readonly string[], { types = true } = {}) =>
  from
    .flatMap(sourceFiles)
    .flatMap(importsOf)
    .filter((imp) => under(imp.target, to) && (types || !imp.typeOnly))
    .map((imp) => `${imp.file} -> ${imp.target}`);

describe('layers point one way', () => {
  it('the worker and the engine below it import nothing of the studio UI (app/studio, app/ui, app/state)', () => {
    expect(wrongWay(['workers', 'app/train', 'app/model', 'app/gpu', 'app/data', 'app/mix', 'app/store'], ['app/studio', 'app/ui', 'app/state'])).toEqual([]);
  });

  // app/data/tokenize reads the tokenizer of app/model: tokenization is data's job on the model's tokenizer.
  it('data and store import nothing from the worker, the training loop or the studio above them', () => {
    expect(wrongWay(['app/data', 'app/store'], ['workers', 'app/train', 'app/studio', 'app/ui', 'app/state', 'app/cli'])).toEqual([]);
  });

  it('the studio logic takes no value (a storage key, a rule) from the worker entries, only the protocol types', () => {
    expect(wrongWay(['app/studio'], ['workers'], { types: false })).toEqual([]);
  });
});
