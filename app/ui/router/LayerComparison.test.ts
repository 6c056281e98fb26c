import { createElement, isValidElement, type ReactElement, type ReactNode } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { LayerResult } from '../../route/layers.ts';
import { useStudio } from '../../state/store.ts';
import { LayerComparisonPanel, LayerComparisonTable } from './LayerComparison.tsx';

const result = (layer: number, pooling: LayerResult['pooling'], heldOutAccuracy: number): LayerResult => ({ layer, pooling, heldOutAccuracy, trainAccuracy: 0.9, heldOutLoss: 0.4, bestStep: 30, steps: 80, stoppedEarly: true });
const RESULTS = [result(0, 'mean', 0.5), result(1, 'mean', 0.75), result(2, 'mean', 0.875), result(3, 'mean', 0.875), result(4, 'mean', 0.625)];
const BEST = RESULTS[2]!;

/** The rows a person sees: each row's cells as text, and which row is marked best. */
function rows(html: string): { cells: string[]; best: boolean }[] {
  return [...html.matchAll(/<tr([^>]*)data-testid="layer-row"[^>]*>(.*?)<\/tr>/g)].map((match) => ({
    best: /class="best"/.test(match[1]!) || /aria-current="true"/.test(match[0]),
    cells: [...match[2]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((cell) => cell[1]!.replace(/<[^>]+>/g, '').replace(/&nbsp;/g, ' ').trim()),
  }));
}

/** The button elements of a rendered tree (host elements only; the table has no components inside). */
function buttons(node: ReactNode): ReactElement<{ 'aria-label'?: string; onClick?: () => void; children?: ReactNode }>[] {
  if (Array.isArray(node)) return node.flatMap(buttons);
  if (!isValidElement<{ children?: ReactNode }>(node)) return [];
  if (typeof node.type === 'function') return buttons((node.type as (props: unknown) => ReactNode)(node.props));
  return [...(node.type === 'button' ? [node as ReactElement<{ 'aria-label'?: string; onClick?: () => void }>] : []), ...buttons(node.props.children)];
}

describe('the Router page’s layer comparison', () => {
  it('shows a row per layer with its held-out and train accuracy and kept step, and marks the best (the earlier of two tied layers) alone', () => {
    const html = renderToStaticMarkup(createElement(LayerComparisonTable, { results: RESULTS, best: BEST, current: { pooling: 'mean' }, onUse: () => {}, disabled: false }));
    const shown = rows(html);
    expect(shown.map((row) => row.cells.slice(0, 2))).toEqual(RESULTS.map((r) => [String(r.layer), 'mean']));
    expect(shown.map((row) => row.cells[2])).toEqual(['50.0%', '75.0%', '87.5% best', '87.5%', '62.5%']);
    expect(shown[0]!.cells[3]).toBe('90.0%');
    expect(shown[0]!.cells[4]).toBe('30 of 80');
    expect(shown.map((row) => row.best)).toEqual([false, false, true, false, false]);
    expect(shown[2]!.cells[5]).toBe('Use this layer');
  });

  it('marks the row already in the settings instead of offering it, and shows results as they come before a best is known', () => {
    const html = renderToStaticMarkup(createElement(LayerComparisonTable, { results: RESULTS.slice(0, 2), current: { layer: 1, pooling: 'mean' }, onUse: () => {}, disabled: false }));
    const shown = rows(html);
    expect(shown).toHaveLength(2);
    expect(shown.every((row) => !row.best)).toBe(true);
    expect(shown.map((row) => row.cells[5])).toEqual(['Use', 'in use']);
  });

  it('"use this layer" puts the row’s layer and pooling in the router settings form', () => {
    const used: LayerResult[] = [];
    const table = LayerComparisonTable({ results: [...RESULTS, result(3, 'mean_last', 0.8)], best: BEST, current: { pooling: 'mean' }, onUse: (chosen) => used.push(chosen), disabled: false });
    const byLabel = new Map(buttons(table).map((button) => [button.props['aria-label'], button]));
    byLabel.get('Use layer 2 (mean)')!.props.onClick!();
    byLabel.get('Use layer 3 (mean_last)')!.props.onClick!();
    expect(used.map((chosen) => [chosen.layer, chosen.pooling])).toEqual([[2, 'mean'], [3, 'mean_last']]);

    useStudio.getState().updateRouterSettings({ layer: undefined, pooling: 'mean', hidden: 32 });
    useStudio.getState().useComparedLayer(used[1]!);
    expect(useStudio.getState().routerSettings).toMatchObject({ layer: 3, pooling: 'mean_last', hidden: 32 });
  });

  it('says what stops a comparison under its own button, which stays disabled until nothing does', () => {
    const problem = 'choose an adapter for at least two tasks: a router chooses between at least two experts (1 chosen)';
    const blocked = renderToStaticMarkup(createElement(LayerComparisonPanel, { disabled: false, problems: [problem] }));
    expect(blocked).toMatch(/<ul class="problems" role="status" aria-label="Before comparing"><li>choose an adapter for at least two tasks/);
    expect(blocked).toMatch(/<button type="button" class="secondary" disabled="">Compare layers<\/button>/);
    const ready = renderToStaticMarkup(createElement(LayerComparisonPanel, { disabled: false, problems: [] }));
    expect(ready).not.toContain('Before comparing');
    expect(ready).toMatch(/<button type="button" class="secondary">Compare layers<\/button>/);
  });
});
