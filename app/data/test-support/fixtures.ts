/**
 * The real data sets in ../shared/fixtures/datasets (see its README), for tests in Node. A test that
 * needs one fails with a message naming the missing file rather than skipping.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** app/data/test-support -> repository root -> ../shared/fixtures/datasets */
export const DATASETS_DIR = path.resolve(here, '../../../../shared/fixtures/datasets');

export const FIXTURES = {
  fpb: 'fpb/Sentences_50Agree.txt',
  twitterTrain: 'twitter_fin_sentiment/sent_train.csv',
  twitterValid: 'twitter_fin_sentiment/sent_valid.csv',
  gsm8kTrain: 'gsm8k/train.jsonl',
  gsm8kTest: 'gsm8k/test.jsonl',
  alpaca: 'alpaca/alpaca_en_demo.json',
} as const;

export function fixturePath(relative: string): string {
  const full = path.join(DATASETS_DIR, relative);
  if (!existsSync(full)) {
    throw new Error(
      `Fixture ${full} is missing. The data tests read the real data sets from ../shared/fixtures/datasets ` +
        `(see ../shared/fixtures/README.md); check out the shared fixtures next to the repository.`,
    );
  }
  return full;
}

/** The fixture as a File, as the studio's file picker would hand it over. */
export function fixtureFile(relative: string): File {
  const bytes = readFileSync(fixturePath(relative));
  return new File([bytes], path.basename(relative));
}

export function fixtureBytes(relative: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(fixturePath(relative)));
}
