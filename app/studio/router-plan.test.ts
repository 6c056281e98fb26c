import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../workers/protocol.ts';
import type { AdapterItem } from './library-items.ts';
import { BASE_CHOICE, candidateAdapters, confusionGrid, DEFAULT_ROUTER_SETTINGS, defaultExperts, expertsLabel, headEtaSeconds, layerComparisonRequest, perTaskRuns, routerRequest, settingsForLayer, SHARED_CHOICE } from './router-plan.ts';

function run(change: Partial<RunRecord> = {}, layout = 'per_task'): RunRecord {
  return {
    runId: 'r1',
    name: 'Per task',
    recipe: { model: { source: 'org/tiny' }, lora: { layout }, tasks: [{ name: 'phrases' }, { name: 'tweets' }, { name: 'math' }] },
    status: 'completed',
    step: 3,
    totalSteps: 3,
    startedAt: 1,
    updatedAt: 2,
    evaluations: [],
    adapterKeys: ['r1/phrases', 'r1/tweets'],
    ...change,
  };
}

const adapter = (key: string, baseModel?: string): AdapterItem => ({ key, name: key, bytes: 1, updatedAt: 1, ...(baseModel ? { baseModel } : {}) });

describe('router plan', () => {
  it('offers only per-task runs with at least two adapters', () => {
    expect(perTaskRuns([run(), run({ runId: 'shared' }, 'shared'), run({ runId: 'one', adapterKeys: ['one/phrases'] })]).map((r) => r.runId)).toEqual(['r1']);
  });

  it("answers each task with the run's own adapter of that task, leaving tasks without one unrouted", () => {
    expect(defaultExperts(run())).toEqual({ phrases: 'r1/phrases', tweets: 'r1/tweets' });
  });

  it('offers library adapters of the same base model, and those whose base is unknown', () => {
    const offered = candidateAdapters(run(), [adapter('a', 'org/tiny'), adapter('b', 'org/other'), adapter('c')]);
    expect(offered.map((item) => item.key)).toEqual(['a', 'c']);
  });

  it('builds the request from the chosen experts in the order of the tasks', () => {
    const { request, problems } = routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: ' mine ', experts: { tweets: 'r1/tweets', phrases: 'r1/phrases', math: '' }, hidden: 16 }, run());
    expect(problems).toEqual([]);
    expect(request).toEqual({
      name: 'mine',
      recipe: run().recipe,
      experts: [
        { name: 'phrases', adapterKey: 'r1/phrases', tasks: ['phrases'] },
        { name: 'tweets', adapterKey: 'r1/tweets', tasks: ['tweets'] },
      ],
      fallback: null,
      balance: 'balanced',
      pooling: 'mean',
      hidden: 16,
      temperature: 1,
      threshold: 0,
      maxSteps: 400,
    });
  });

  it('makes the base model and the shared adapter experts of the tasks given to them, and one expert of tasks that share an adapter', () => {
    const { request, problems } = routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts: { phrases: 'r1/phrases', tweets: SHARED_CHOICE, math: BASE_CHOICE }, sharedKey: 'r0/shared' }, run());
    expect(problems).toEqual([]);
    expect(request!.experts).toEqual([
      { name: 'phrases', adapterKey: 'r1/phrases', tasks: ['phrases'] },
      { name: 'shared', adapterKey: 'r0/shared', tasks: ['tweets'] },
      { name: 'base', adapterKey: null, tasks: ['math'] },
    ]);
    expect(request!.sharedKey).toBe('r0/shared');
    const grouped = routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts: { phrases: 'r1/phrases', tweets: BASE_CHOICE, math: 'r1/phrases' } }, run());
    expect(grouped.request!.experts).toEqual([
      { name: 'phrases', adapterKey: 'r1/phrases', tasks: ['phrases', 'math'] },
      { name: 'base', adapterKey: null, tasks: ['tweets'] },
    ]);
  });

  it('refuses the shared adapter as an expert until one is chosen, and one adapter for every task (a single expert)', () => {
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts: { phrases: 'r1/phrases', tweets: SHARED_CHOICE } }, run()).problems).toEqual(['choose the shared adapter that answers the tasks given to it']);
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts: { phrases: BASE_CHOICE, tweets: BASE_CHOICE } }, run()).problems).toEqual([
      'choose an adapter for at least two tasks: a router chooses between at least two experts (1 chosen)',
    ]);
    const named = run({ recipe: { model: { source: 'org/tiny' }, lora: { layout: 'per_task' }, tasks: [{ name: 'base' }, { name: 'tweets' }] } });
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts: { base: 'r1/base', tweets: BASE_CHOICE } }, named).problems).toEqual([
      'the task “base” shares its name with the base model expert: answer it with the base model too, or rename the task',
    ]);
  });

  it('refuses fewer than two experts, a threshold without a fallback, and a shared fallback without an adapter', () => {
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts: { phrases: 'r1/phrases' } }, run()).problems).toEqual([
      'choose an adapter for at least two tasks: a router chooses between at least two experts (1 chosen)',
    ]);
    const experts = { phrases: 'r1/phrases', tweets: 'r1/tweets' };
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts, threshold: 0.6 }, run()).problems).toEqual([
      'a confidence threshold needs a fallback (the base model or a shared adapter) to answer below it',
    ]);
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts, threshold: 0.6, fallback: 'shared' }, run()).problems).toEqual(['choose the shared adapter that answers below the threshold']);
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, experts }, run()).problems).toEqual(['give the router a name']);
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts }, undefined).problems).toEqual(['choose a run whose tasks teach the router']);
  });

  it('mixes the top k experts when asked, never more than are chosen', () => {
    const experts = { phrases: 'r1/phrases', tweets: 'r1/tweets' };
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts, topK: 2 }, run()).request).toMatchObject({ topK: 2 });
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts, topK: 3 }, run()).problems).toEqual(['mix at most as many experts as are chosen (2)']);
  });

  it('sends the shared adapter only with the shared fallback', () => {
    const experts = { phrases: 'r1/phrases', tweets: 'r1/tweets' };
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts, threshold: 0.5, fallback: 'shared', sharedKey: 'r0/shared' }, run()).request).toMatchObject({ fallback: 'shared', sharedKey: 'r0/shared', threshold: 0.5 });
    expect(routerRequest({ ...DEFAULT_ROUTER_SETTINGS, name: 'x', experts, threshold: 0.5, fallback: 'base', sharedKey: 'r0/shared' }, run()).request).not.toHaveProperty('sharedKey');
  });

  it('lists a router’s experts with the tasks that taught them where those are not the task of their own name', () => {
    expect(expertsLabel({ experts: ['fpb', 'gsm8k'] })).toBe('fpb, gsm8k');
    expect(expertsLabel({ experts: ['fpb', 'shared', 'base'], expertTasks: [['fpb'], ['gsm8k'], ['alpaca', 'dolly']] })).toBe('fpb, shared ← gsm8k, base ← alpaca + dolly');
    expect(expertsLabel({ experts: ['fpb', 'gsm8k'], expertTasks: [['fpb', 'tweets'], ['gsm8k']] })).toBe('fpb ← fpb + tweets, gsm8k');
  });

  it('estimates the time left from the pace between evaluations', () => {
    expect(headEtaSeconds([{ step: 10, at: 0 }], 100)).toBeUndefined();
    // 10 steps took 2 s: 0.2 s a step, 70 steps left.
    expect(headEtaSeconds([{ step: 10, at: 1000 }, { step: 20, at: 2000 }, { step: 30, at: 3000 }], 100)).toBeCloseTo(70 * 0.1, 10);
    expect(headEtaSeconds([{ step: 10, at: 0 }, { step: 20, at: 2000 }], 20)).toBe(0);
  });

  it('lays the confusion out with the experts first, a fallback that answered after them, and shares per task', () => {
    const grid = confusionGrid({ phrases: { phrases: 3, tweets: 1 }, tweets: { tweets: 2, base: 2 } }, ['phrases', 'tweets']);
    expect(grid.rows).toEqual(['phrases', 'tweets']);
    expect(grid.columns).toEqual(['phrases', 'tweets', 'base']);
    expect(grid.counts).toEqual([
      [3, 1, 0],
      [0, 2, 2],
    ]);
    expect(grid.shares).toEqual([
      [0.75, 0.25, 0],
      [0, 0.5, 0.5],
    ]);
  });

  it('compares layers with the form’s router, unnamed, at every layer: its pooling, or that pooling first and then the others', () => {
    const settings = { ...DEFAULT_ROUTER_SETTINGS, experts: { phrases: 'r1/phrases', tweets: 'r1/tweets' }, layer: 1, pooling: 'last' as const, hidden: 16, maxSteps: 50 };
    const { request, problems } = layerComparisonRequest(settings, run(), false);
    expect(problems).toEqual([]);
    expect(request).not.toHaveProperty('name');
    expect(request).not.toHaveProperty('layer');
    expect(request).toMatchObject({ poolings: ['last'], hidden: 16, maxSteps: 50, balance: 'balanced', experts: [{ name: 'phrases' }, { name: 'tweets' }] });
    expect(layerComparisonRequest(settings, run(), true).request!.poolings).toEqual(['last', 'mean', 'mean_last']);
    expect(layerComparisonRequest({ ...settings, experts: { phrases: 'r1/phrases' } }, run(), false).problems).toEqual(['choose an adapter for at least two tasks: a router chooses between at least two experts (1 chosen)']);
    expect(settingsForLayer({ layer: 3, pooling: 'mean_last' })).toEqual({ layer: 3, pooling: 'mean_last' });
  });
});
