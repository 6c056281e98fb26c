/**
 * The studio's pages, addressed by the URL hash (#/model, #/tasks, ...): no router library, links
 * work, the back button works, and a reload stays on the page. Recipes shared as links use
 * #/recipes?r=<encoded recipe>.
 */
import { useSyncExternalStore } from 'react';

export const PAGES = [
  { id: 'start', label: 'Start' },
  { id: 'model', label: 'Model' },
  { id: 'tasks', label: 'Tasks' },
  { id: 'mixture', label: 'Mixture' },
  { id: 'train', label: 'Train' },
  { id: 'evaluate', label: 'Evaluate' },
  { id: 'experiments', label: 'Experiments' },
  { id: 'router', label: 'Router' },
  { id: 'playground', label: 'Playground' },
  { id: 'library', label: 'Library' },
  { id: 'recipes', label: 'Recipes' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

export interface Route {
  page: PageId;
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  const page = PAGES.find((p) => p.id === path)?.id ?? 'start';
  return { page, params: new URLSearchParams(query) };
}

export function hrefFor(page: PageId, params?: Record<string, string>): string {
  const query = params ? `?${new URLSearchParams(params).toString()}` : '';
  return `#/${page}${query}`;
}

export function navigate(page: PageId, params?: Record<string, string>): void {
  window.location.hash = hrefFor(page, params);
}

const subscribe = (onChange: () => void) => {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
};

/** The current route; re-renders on every hash change. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}
