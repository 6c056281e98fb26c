/**
 * How large a recipe may be. A recipe is a few kilobytes of settings; one that arrives in a link or a
 * file with megabytes of text, thousands of tasks or a huge map is a mistake or an attack, and is
 * refused before anything is parsed further or stored (the studio keeps its recipe in localStorage,
 * whose quota a large one would fill). Checked by parseRecipe for every source: files, links, the CLI.
 */
import type { RecipeProblem } from './recipe.ts';

export const RECIPE_LIMITS = {
  /** The recipe as JSON text. The Finance cocktail is about 1.5 KiB. */
  bytes: 64 * 1024,
  tasks: 64,
  /** Any one text: a name, a path, a template. */
  stringLength: 8 * 1024,
  /** Entries of any one map (columns, labels, weights) or list. */
  entries: 256,
  /** Nesting of objects and lists (the schema's deepest is five). */
  depth: 8,
} as const;

/** Size problems of a parsed recipe, each with the JSON path at fault; the text's length when it came as text. */
export function recipeSizeProblems(raw: unknown, textLength?: number): RecipeProblem[] {
  const bytes = textLength ?? jsonLength(raw);
  if (bytes > RECIPE_LIMITS.bytes) {
    return [{ path: '', message: `is ${(bytes / 1024).toFixed(0)} KiB; a recipe is a few kilobytes of settings, at most ${RECIPE_LIMITS.bytes / 1024} KiB. Is this the right file?` }];
  }
  const problems: RecipeProblem[] = [];
  const tasks = (raw as { tasks?: unknown } | null)?.tasks;
  if (Array.isArray(tasks) && tasks.length > RECIPE_LIMITS.tasks) problems.push({ path: 'tasks', message: `has ${tasks.length} tasks; a recipe holds at most ${RECIPE_LIMITS.tasks}` });
  walk(raw, '', 0, problems);
  return problems;
}

function walk(value: unknown, path: string, depth: number, problems: RecipeProblem[]): void {
  if (typeof value === 'string') {
    if (value.length > RECIPE_LIMITS.stringLength) problems.push({ path, message: `is ${value.length} characters long; a recipe's texts are at most ${RECIPE_LIMITS.stringLength}` });
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= RECIPE_LIMITS.depth) {
    problems.push({ path, message: `nests deeper than a recipe ever does (${RECIPE_LIMITS.depth} levels)` });
    return;
  }
  const entries = Array.isArray(value) ? value.map((item, i) => [`${path}[${i}]`, item] as const) : Object.entries(value).map(([key, item]) => [path ? `${path}.${key}` : key, item] as const);
  if (entries.length > RECIPE_LIMITS.entries) {
    problems.push({ path, message: `has ${entries.length} entries; a recipe's lists and maps hold at most ${RECIPE_LIMITS.entries}` });
    return;
  }
  for (const [childPath, child] of entries) walk(child, childPath, depth + 1, problems);
}

function jsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 0; // not JSON at all (a cycle): the schema refuses it
  }
}
