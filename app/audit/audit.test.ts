import { describe, expect, it } from 'vitest';
import type { ConversationExample, Example } from '../data/example.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { runAudit } from './audit.ts';
import { findPii } from './pii.ts';
import { chiSquarePValue, passesLuhn } from './statistics.ts';
import { DEFAULT_TERM_LIST, parseTermList } from './terms.ts';
import type { AuditTaskInput } from './types.ts';

function row(index: number, prompt: string, label: string): ConversationExample {
  return {
    kind: 'conversation',
    source: { row: index + 1 },
    turns: [
      { role: 'user', content: prompt, train: false },
      { role: 'assistant', content: label, train: true },
    ],
    expected: { kind: 'label', label, word: label },
  };
}

/** A tokenized row of `length` tokens whose last two carry loss. */
function tokens(index: number, length: number, truncatedTokens = 0): TokenizedExample {
  const labels = Int32Array.from({ length }, (_, t) => (t >= length - 2 ? 7 : -100));
  return { source: { row: index + 1 }, inputIds: new Int32Array(length).fill(5), labels, turnIndex: new Int32Array(length), roles: [], truncatedTokens };
}

function task(name: string, train: Example[], validation: Example[] = [], maxLength = 64): AuditTaskInput {
  return { name, role: 'task', train, validation, tokenizedTrain: train.map((_, i) => tokens(i, 10)), tokenizedValidation: validation.map((_, i) => tokens(i, 10)), maxLength };
}

const terms = parseTermList(DEFAULT_TERM_LIST);

describe('term list', () => {
  it('parses the default list into categories', () => {
    expect(terms.map((category) => category.category)).toEqual(['gender', 'ethnicity', 'religion', 'age', 'nationality']);
    expect(terms[0]!.terms).toContain('women');
  });

  it('reports a line that does not parse with its number', () => {
    expect(() => parseTermList('# mine\ngender: she, he\nreligion muslim, christian\n', 'terms.txt')).toThrow(expect.objectContaining({ code: 'AUDIT_TERMS_INVALID', details: { file: 'terms.txt', line: 3 } }));
    expect(() => parseTermList('age: young,, old')).toThrow(/line 1: a term is empty/);
  });
});

describe('statistics', () => {
  it('gives the chi-square tail probabilities of the tables', () => {
    expect(chiSquarePValue(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquarePValue(5.991464547107979, 2)).toBeCloseTo(0.05, 10);
    expect(chiSquarePValue(16.26623619623813, 3)).toBeCloseTo(0.001, 10);
    // df = 2: P(X > x) = exp(−x/2) exactly.
    expect(chiSquarePValue(40, 2)).toBeCloseTo(Math.exp(-20), 18);
  });

  it('checks card numbers with Luhn', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
  });
});

describe('personal data', () => {
  it('finds e-mail addresses, phone numbers, card-like numbers and URLs, and leaves amounts alone', () => {
    const found = findPii('Write to jane.doe@example.com or call +1 415 555 0100 / (212) 555-0199; card 4111 1111 1111 1111; see https://example.org/x. Sales rose to 2,500,000 in 2009-2012; id 1234567890123');
    expect(found.email).toEqual(['jane.doe@example.com']);
    expect(found.url).toEqual(['https://example.org/x.']);
    expect(found.card).toEqual(['4111 1111 1111 1111']);
    expect(found.phone).toEqual(['+1 415 555 0100', '(212) 555-0199']);
  });
});

describe('runAudit', () => {
  it('counts exact duplicates once per extra copy, and near ones apart', async () => {
    const train = [row(0, 'Sales rose.', 'up'), row(1, '  Sales rose. ', 'up'), row(2, 'Sales rose.', 'up'), row(3, 'sales  ROSE', 'up'), row(4, 'Sales rose.', 'down')];
    const report = await runAudit([task('t', train)], [], { terms, plan: null });
    expect(report.tasks.t!.duplicates.exact).toBe(2);
    expect(report.tasks.t!.duplicates.near).toBe(1);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'duplicates', change: { type: 'set_drop_duplicates', task: 't' } }));
  });

  it('flags a term that always comes with one label, and not its balanced twin', async () => {
    const labels = ['positive', 'negative'];
    const biased: Example[] = [];
    const balanced: Example[] = [];
    for (let i = 0; i < 200; i++) {
      const label = labels[i % 2]!;
      const mentions = i % 10 < 2; // 40 rows mention the term
      biased.push(row(i, mentions ? `The muslim owner said sales moved ${i}.` : `The owner said sales moved ${i}.`, mentions ? 'negative' : label));
      balanced.push(row(i, mentions ? `The muslim owner said sales moved ${i}.` : `The owner said sales moved ${i}.`, label));
    }
    const report = await runAudit([task('biased', biased), task('balanced', balanced)], [], { terms, plan: null });
    const flags = report.tasks.biased!.bias_flags;
    expect(flags.map((flag) => flag.term)).toEqual(['muslim']);
    // 40 rows, all negative; the task is 120 negative / 80 positive, so 24 / 16 were expected.
    expect(flags[0]!.label_counts).toEqual({ negative: 40, positive: 0 });
    expect(flags[0]!.statistic).toBeCloseTo((40 - 24) ** 2 / 24 + 16, 10);
    expect(flags[0]!.p_value).toBeLessThan(report.tasks.biased!.bias_level);
    expect(report.tasks.balanced!.bias_flags).toEqual([]);
    expect(report.tasks.balanced!.bias_tested).toBe(1);
    expect(report.findings.filter((finding) => finding.kind === 'bias').map((finding) => finding.task)).toEqual(['biased']);
  });

  it('finds validation rows copied into another task’s training rows', async () => {
    const a = task('a', [row(0, 'Alpha one', 'x'), row(1, 'Alpha two', 'y')], [row(0, 'Alpha held out', 'x'), row(1, 'Alpha also held out', 'y')]);
    const b = task('b', [row(0, 'Beta one', 'p'), row(1, 'alpha HELD out!', 'q'), row(2, 'Alpha one', 'p')], [row(0, 'Beta held out', 'p')]);
    const report = await runAudit([a, b], [], { terms, plan: null });
    expect(report.cross.leakage).toEqual([expect.objectContaining({ train_task: 'b', validation_task: 'a', count: 1 })]);
    expect(report.cross.duplicates).toEqual([expect.objectContaining({ task_a: 'a', task_b: 'b', count: 1 })]);
    expect(report.findings[0]).toMatchObject({ severity: 'error', kind: 'leakage', task: 'a' });
  });

  it('reports label balance with the majority-class accuracy on validation, and token lengths', async () => {
    const train = Array.from({ length: 10 }, (_, i) => row(i, `text ${i}`, i < 8 ? 'neutral' : 'positive'));
    const validation = Array.from({ length: 4 }, (_, i) => row(i, `held ${i}`, i < 3 ? 'neutral' : 'positive'));
    const input = task('t', train, validation, 8);
    input.tokenizedTrain = train.map((_, i) => (i === 0 ? tokens(i, 8, 4) : tokens(i, 6)));
    const report = await runAudit([input], [], { terms, plan: null });
    const audit = report.tasks.t!;
    expect(audit.label_counts).toEqual({ neutral: 8, positive: 2 });
    expect(audit.majority).toEqual({ label: 'neutral', train_accuracy: 0.8, validation_accuracy: 0.75 });
    expect(audit.lengths.truncated_share).toBeCloseTo(1 / 14, 12);
    expect(audit.lengths.max).toBe(12);
    expect(audit.lengths.loss_token_share).toBeCloseTo((14 * 2) / (8 + 9 * 6 + 4 * 10), 12);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'balance', severity: 'warning' }));
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'length', change: { type: 'set_max_length', value: audit.lengths.p99 } }));
  });

  it('counts the rows max_length dropped whole as cut, with their lengths before the cut', async () => {
    const train = Array.from({ length: 6 }, (_, i) => row(i, `text ${i}`, 'neutral'));
    const input = task('t', train, [], 8);
    input.tokenizedTrain = train.slice(0, 4).map((_, i) => (i === 0 ? tokens(i, 8, 2) : tokens(i, 6)));
    input.droppedLengths = [20, 30];
    const audit = (await runAudit([input], [], { terms, plan: null })).tasks.t!;
    // 6 rows: one cut and kept (10 tokens before the cut), three of 6 tokens, two dropped (20 and 30).
    expect(audit.lengths.truncated_share).toBeCloseTo(3 / 6, 12);
    expect(audit.lengths.max).toBe(30);
    expect(audit.lengths.mean).toBeCloseTo((10 + 6 * 3 + 20 + 30) / 6, 12);
    expect(audit.lengths.histogram.at(-1)!.count).toBe(3);
  });

  it('gives expected examples and epochs from the mixture, and flags tasks seen less than once or more than ten times', async () => {
    const big = task('big', Array.from({ length: 1000 }, (_, i) => row(i, `big ${i}`, 'a')));
    const small = task('small', Array.from({ length: 10 }, (_, i) => row(i, `small ${i}`, 'a')));
    const plan = { tasks: [{ name: 'big', examples: 1000 }, { name: 'small', examples: 10 }], strategy: { kind: 'uniform' as const }, sampleBy: 'example' as const, batchSize: 10, totalSteps: 50 };
    const report = await runAudit([big, small], [], { terms, plan });
    expect(report.tasks.big!.expected_examples).toBeCloseTo(250, 9);
    expect(report.tasks.small!.expected_epochs).toBeCloseTo(25, 9);
    expect(report.findings).toContainEqual(expect.objectContaining({ task: 'big', kind: 'size', change: { type: 'set_max_examples', task: 'big', value: 250 } }));
    expect(report.findings).toContainEqual(expect.objectContaining({ task: 'small', kind: 'size', change: { type: 'set_role', task: 'small', role: 'regularizer' } }));
  });
});
