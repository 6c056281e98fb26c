import type { PageId } from '../routes.ts';

/** Which page edits the part of the recipe at `path` ("tasks[1].format" → Tasks, "lora.r" → Train). */
export function pageForPath(path: string): PageId {
  const root = path.split(/[.[]/, 1)[0] ?? '';
  if (root === 'model') return 'model';
  if (root === 'tasks') return 'tasks';
  if (root === 'mixture') return 'mixture';
  if (root === '' || root === 'name') return 'recipes';
  return 'train';
}
