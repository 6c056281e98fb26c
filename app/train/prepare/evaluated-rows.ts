/**
 * Which validation examples a run tokenizes: only those its evaluations score. A 50 MB file's
 * validation split holds thousands of examples while an evaluation scores `eval_examples` of them, and
 * tokenizing the rest cost most of a preparation's time.
 *
 * The sample must be the one the evaluator draws from the wholly tokenized split (app/train/eval-sample.ts),
 * and tokenization drops some examples (a prompt longer than max_length), so the draw cannot simply
 * happen before tokenization: it runs eval-sample's drawSample, which walks each label's seeded order
 * and asks which candidates survive; the ones it asks about are tokenized here, in batches, and the
 * draw runs again until it needs nothing more. drawSample is one function of the answers it reads, so
 * the result equals the draw over the whole split (evaluated-rows.test.ts shows it on overlong rows).
 */
import type { Example } from '../../data/index.ts';
import { drawSample, planSample, splitFacts, type EvaluationSample, type SplitCandidate } from '../eval-sample.ts';
import type { PreparedTask } from '../task-data.ts';

export interface EvaluatedValidation {
  /** The examples the evaluations score, in the split's order. */
  readonly examples: readonly Example[];
  /** Absent when every example of the split is evaluated (the whole split was asked for, or it is no larger than the sample). */
  readonly sample?: Omit<EvaluationSample, 'indices' | 'labels'>;
}

/** The rows of `examples` that tokenization keeps. */
export type Survivors = (examples: readonly Example[]) => Promise<ReadonlySet<number>>;

export async function evaluatedValidation(
  task: { name: string; metric: PreparedTask['metric']; labelWords?: readonly string[] },
  examples: readonly Example[],
  requested: number | 'all',
  seed: number,
  survivors: Survivors,
): Promise<EvaluatedValidation> {
  if (requested === 'all' || requested >= examples.length) return { examples };
  const candidates = splitCandidates(examples);
  const plan = planSample(task, candidates, requested, seed);
  const known = new Map<number, boolean>();
  for (;;) {
    const draw = drawSample(plan, (candidate) => known.get(candidate));
    if ('candidates' in draw) return { examples: draw.candidates.map((candidate) => examples[candidate]!), sample: splitFacts(task, candidates, requested) };
    const asked = draw.need.map((candidate) => examples[candidate]!);
    const kept = await survivors(asked);
    asked.forEach((example, i) => known.set(draw.need[i]!, kept.has(example.source.row)));
  }
}

/** The split before tokenization as the sample sees it: each example's row and label word. */
export function splitCandidates(examples: readonly Example[]): SplitCandidate[] {
  return examples.map((example) => ({ row: example.source.row, expected: example.kind === 'conversation' && example.expected?.kind === 'label' ? example.expected.word : '' }));
}
