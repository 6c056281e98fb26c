/**
 * Chart colours that follow the studio's light and dark themes. recharts draws SVG with colours in
 * attributes, where CSS variables do not apply, so the theme's variables are read once per colour
 * scheme and handed to the chart as plain values.
 */
import { useSyncExternalStore } from 'react';

export interface ChartTheme {
  text: string;
  muted: string;
  border: string;
  panel: string;
  accent: string;
}

/** Series colours that read on both the light and the dark panel (Tableau 10, without its greys). */
export const SERIES_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f'] as const;

export function seriesColor(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length]!;
}

const DARK_QUERY = '(prefers-color-scheme: dark)';

function subscribe(onChange: () => void): () => void {
  const query = globalThis.matchMedia?.(DARK_QUERY);
  query?.addEventListener('change', onChange);
  return () => query?.removeEventListener('change', onChange);
}

const isDark = () => globalThis.matchMedia?.(DARK_QUERY).matches ?? false;

const themes = new Map<boolean, ChartTheme>();

function readTheme(dark: boolean): ChartTheme {
  let theme = themes.get(dark);
  if (!theme) {
    const style = getComputedStyle(document.documentElement);
    const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
    theme = { text: read('--text', dark ? '#ececf1' : '#1d1d1f'), muted: read('--muted', '#777'), border: read('--border', '#ccc'), panel: read('--panel', dark ? '#202026' : '#fff'), accent: read('--accent', '#c2374a') };
    themes.set(dark, theme);
  }
  return theme;
}

/** The current theme's chart colours; components re-render when the colour scheme changes. */
export function useChartTheme(): ChartTheme {
  const dark = useSyncExternalStore(subscribe, isDark, () => false);
  return readTheme(dark);
}
