import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../train/recipe.ts';
import type { ExperimentSpec } from './design.ts';
import { honestSplit } from './honest-split.ts';
import { computeResults, greedyStage, type ArmSeedRecord } from './results.ts';
import { hashLabel, seededRandom } from './statistics.ts';
import { resultsCsv } from './export.ts';

const recipe = parseRecipe({
  model: { source: 'aidreams260K' },
  tasks: ['t', 'h', 'c'].map((name) => ({ name, source: { file: `${name}.jsonl` }, format: 'prompt_completion', metric: 'accuracy' })),
  steps: 10,
  seed: 1,
});
const spec: ExperimentSpec = { recipe, targets: ['t'], designs: ['pairs', 'leave-one-out'], seeds: 2, budget: 'steps' };
const EXAMPLES = 60;

/** Records where the target is right on an example when its difficulty is below the arm's rate p; other tasks score 0.5. */
function records(targetRate: Record<string, number>): ArmSeedRecord[] {
  const out: ArmSeedRecord[] = [];
  for (const [arm, p] of Object.entries(targetRate)) {
    for (const seed of [1, 2]) {
      // The same draws for every arm: example i's difficulty is shared, as real examples' are.
      const random = seededRandom(hashLabel(`seed:${seed}`));
      const scores = Array.from({ length: EXAMPLES }, () => (random() < p ? 1 : 0));
      const flat = Array.from({ length: EXAMPLES }, () => 0.5);
      const sample = Array.from({ length: EXAMPLES }, (_, i) => i);
      out.push({
        arm,
        tasks: arm.split('+'),
        seed,
        steps: 10,
        runId: `${arm}-${seed}`,
        evaluations: { t: { metric: 'accuracy', examples: sample, losses: scores.map((s) => 1 - s), scores }, h: { metric: 'accuracy', examples: sample, losses: flat, scores: flat }, c: { metric: 'accuracy', examples: sample, losses: flat, scores: flat } },
        trainSeconds: 1,
        evaluateSeconds: 1,
        tokens: 100,
      });
    }
  }
  return out;
}

/** Changes only the report part of task t's scores in every record. */
function rewriteReportPart(list: ArmSeedRecord[], value: (arm: string) => number): ArmSeedRecord[] {
  const { report } = honestSplit('t', EXAMPLES, recipe.seed);
  return list.map((record) => {
    const scores = [...record.evaluations.t!.scores];
    for (const i of report) scores[i] = value(record.arm);
    return { ...record, evaluations: { ...record.evaluations, t: { ...record.evaluations.t!, scores } } };
  });
}

const rates = { t: 0.4, 't+h': 0.85, 't+c': 0.1, 't+h+c': 0.6, 'h+c': 0.05 };

describe('experiment results', () => {
  it('splits each task’s examples into disjoint selection and report parts covering all of them', () => {
    const { selection, report } = honestSplit('t', 41, 3);
    expect(selection.length).toBe(21);
    expect(report.length).toBe(20);
    expect([...selection, ...report].sort((a, b) => a - b)).toEqual(Array.from({ length: 41 }, (_, i) => i));
    expect(honestSplit('t', 41, 3)).toEqual({ selection, report });
    expect(honestSplit('t', 41, 4)).not.toEqual({ selection, report });
  });

  it('reports effects against the target’s single arm, the synergy row and leave-one-out contributions', () => {
    const results = computeResults(spec, records(rates));
    const effect = (arm: string) => results.effects.find((e) => e.arm === arm && e.target === 't')!;
    expect(effect('t+h').delta).toBeGreaterThan(0);
    expect(effect('t+h').significant).toBe(true);
    expect(effect('t+c').delta).toBeLessThan(0);
    expect(effect('t+c').significant).toBe(true);
    expect(results.synergy.map((s) => [s.task, Math.sign(s.delta)])).toEqual([
      ['h', 1],
      ['c', -1],
    ]);
    const loo = Object.fromEntries(results.leave_one_out.map((l) => [l.removed, Math.sign(l.delta)]));
    expect(loo).toEqual({ t: 1, h: 1, c: -1 });
    expect(results.recommended!.tasks).toEqual(['t', 'h']);
    // Effects are reported on the report part, and match a direct computation of the mean difference.
    const { report } = honestSplit('t', EXAMPLES, recipe.seed);
    const meanOn = (arm: string) => {
      const list = records(rates).filter((r) => r.arm === arm);
      return list.reduce((sum, r) => sum + report.reduce((s, i) => s + r.evaluations.t!.scores[i]!, 0) / report.length, 0) / list.length;
    };
    expect(effect('t+h').delta).toBeCloseTo(meanOn('t+h') - meanOn('t'), 12);
    expect(results.arms.find((a) => a.id === 't')!.metrics.t!.n).toBe(report.length);
  });

  it('never reads the report part for a choice: changing only it changes the reported scores, not the recommendation', () => {
    const honest = computeResults(spec, records(rates));
    // Make the worst arm look perfect, and the best look hopeless, on the report part alone.
    const tampered = computeResults(spec, rewriteReportPart(records(rates), (arm) => (arm === 't+c' ? 1 : 0)));
    expect(tampered.recommended!.arm).toBe(honest.recommended!.arm);
    expect(tampered.recommended!.selection_scores).toEqual(honest.recommended!.selection_scores);
    expect(tampered.recommended!.report_scores).not.toEqual(honest.recommended!.report_scores);
    expect(tampered.recommended!.report_scores.t).toBe(0);
    expect(tampered.arms.find((a) => a.id === 't+c')!.metrics.t!.mean).toBe(1);

    const greedySpec = { ...spec, designs: ['greedy' as const] };
    const stage = greedyStage(greedySpec, records(rates), ['t']);
    expect(stage.added).toBe('h');
    const tamperedStage = greedyStage(greedySpec, rewriteReportPart(records(rates), (arm) => (arm === 't+c' ? 1 : 0)), ['t']);
    expect(tamperedStage).toEqual(stage);
  });

  it('stops greedy when no addition improves the targets beyond its interval', () => {
    const stage = greedyStage({ ...spec, designs: ['greedy'] }, records({ t: 0.5, 't+h': 0.5, 't+c': 0.2 }), ['t']);
    expect(stage.added).toBeNull();
    expect(stage.arm).toBe('t');
    expect(stage.tried.map((entry) => entry.added)).toEqual(['h', 'c']);
  });

  it('refuses to compare arms that scored other validation examples of a task, naming the arm, seed and task', () => {
    const list = records(rates).map((record) => (record.arm === 't+h' && record.seed === 2 ? { ...record, evaluations: { ...record.evaluations, h: { ...record.evaluations.h!, examples: record.evaluations.h!.examples.map((i) => i + 1) } } } : record));
    expect(() => computeResults(spec, list)).toThrow(expect.objectContaining({ code: 'EXPERIMENT_SAMPLE_MISMATCH', message: expect.stringMatching(/^arm t\+h \(seed 2\) scored other validation examples of task "h" than arm t \(seed 1\)/) }));
  });

  it('counts only arms finished under every seed', () => {
    const partial = records(rates).filter((r) => !(r.arm === 't+c' && r.seed === 2));
    expect(computeResults(spec, partial).arms.map((a) => a.id)).not.toContain('t+c');
  });

  it('writes one CSV row per arm and task, with the effect on targets', () => {
    const csv = resultsCsv(computeResults(spec, records(rates))).trim().split('\n');
    expect(csv[0]).toBe('arm,design,tasks,seeds,steps,task,metric,mean,std,ci_low,ci_high,n,loss_mean,loss_ci_low,loss_ci_high,effect,effect_ci_low,effect_ci_high,significant');
    expect(csv).toHaveLength(1 + 5 * 3);
    // The design cell holds a comma, so it is quoted.
    const row = csv.find((line) => line.startsWith('t+h,"pairs,leave-one-out",t h,1 2,10,t,accuracy,'))!.split(',');
    expect(row.at(-1)).toBe('true');
  });
});
