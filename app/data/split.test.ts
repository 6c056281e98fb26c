import { describe, expect, it } from 'vitest';
import type { Example } from './example.ts';
import { mapRows } from './formats/mapping.ts';
import { importFile } from './import/import-file.ts';
import { fileSplits, labelOf, normalizeSplitName, splitSeeded } from './split.ts';
import { FIXTURES, fixtureFile } from './test-support/fixtures.ts';
import { ProblemLog } from './validate.ts';

const numbers = Array.from({ length: 1000 }, (_, i) => i);

describe('splitSeeded', () => {
  it('splits by the given shares, round(n x share) for validation and test', () => {
    const splits = splitSeeded(numbers, { validation: 0.1, test: 0.05, seed: 1 });
    expect([splits.train.length, splits.validation.length, splits.test.length]).toEqual([850, 100, 50]);
    expect([...splits.train, ...splits.validation, ...splits.test].sort((a, b) => a - b)).toEqual(numbers);
  });

  it('gives the same split for the same seed and a different one for another seed', () => {
    const a = splitSeeded(numbers, { validation: 0.2, test: 0.1, seed: 42 });
    expect(splitSeeded(numbers, { validation: 0.2, test: 0.1, seed: 42 })).toEqual(a);
    expect(splitSeeded(numbers, { validation: 0.2, test: 0.1, seed: 43 }).validation).not.toEqual(a.validation);
  });

  it('keeps the file order within each split', () => {
    const { train, validation } = splitSeeded(numbers, { validation: 0.3, test: 0, seed: 7 });
    expect(train).toEqual([...train].sort((a, b) => a - b));
    expect(validation).toEqual([...validation].sort((a, b) => a - b));
  });

  it('keeps each label\'s share in every split when stratified (FPB, 4,846 rows)', async () => {
    const { rows, info } = await importFile(fixtureFile(FIXTURES.fpb), { delimiter: '@', columnNames: ['sentence', 'label'] });
    const { examples } = mapRows(rows, { format: 'classification' }, { log: new ProblemLog('fpb'), columns: info.columns });
    const splits = splitSeeded(examples, { validation: 0.1, test: 0.1, seed: 5, stratify: labelOf });
    expect([splits.train.length, splits.validation.length, splits.test.length]).toEqual([3876, 485, 485]);
    const share = (items: Example[], label: string) => items.filter((example) => labelOf(example) === label).length / items.length;
    for (const label of ['negative', 'neutral', 'positive']) {
      expect(Math.abs(share(splits.validation, label) - share(examples, label))).toBeLessThan(0.003);
      expect(Math.abs(share(splits.test, label) - share(examples, label))).toBeLessThan(0.003);
    }
    // 10 % of 604/2879/1363 is 60.4/287.9/136.3; the two rows left over go to the largest remainders.
    const counts = ['negative', 'neutral', 'positive'].map((label) => splits.validation.filter((example) => labelOf(example) === label).length);
    expect(counts).toEqual([61, 288, 136]);
  });

  it('refuses shares that leave nothing to train on, or are out of range', () => {
    expect(() => splitSeeded(numbers, { validation: 0.5, test: 0.5, seed: 1 })).toThrow(expect.objectContaining({ code: 'DATA_BAD_SPLIT' }));
    expect(() => splitSeeded(numbers, { validation: -0.1, test: 0, seed: 1 })).toThrow(/\[0, 1\)/);
    expect(() => splitSeeded(numbers, { validation: Number.NaN, test: 0, seed: 1 })).toThrow(/\[0, 1\)/);
  });

  it('handles tiny inputs', () => {
    expect(splitSeeded([], { validation: 0.1, test: 0.1, seed: 1 })).toEqual({ train: [], validation: [], test: [] });
    expect(splitSeeded(['only'], { validation: 0.1, test: 0.1, seed: 1 })).toEqual({ train: ['only'], validation: [], test: [] });
  });
});

describe('file splits', () => {
  it('takes the files\' own splits under their usual names', async () => {
    const train = await importFile(fixtureFile(FIXTURES.twitterTrain));
    const valid = await importFile(fixtureFile(FIXTURES.twitterValid));
    const splits = fileSplits({ train: train.rows, valid: valid.rows });
    expect([splits.train.length, splits.validation.length, splits.test.length]).toEqual([9543, 2388, 0]);
  });

  it('normalizes split names and refuses one it does not know', () => {
    expect(['train', 'VALID', 'dev', 'eval', 'test'].map(normalizeSplitName)).toEqual(['train', 'validation', 'validation', 'validation', 'test']);
    expect(() => fileSplits({ train_sft: [1] })).toThrow(/"train_sft" is not train, validation or test/);
  });
});
