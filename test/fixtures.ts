import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The shared fixtures folder beside the repository (../shared/fixtures). */
export const FIXTURES = resolve(import.meta.dirname, '../../shared/fixtures');

/** Absolute path of a fixture; a missing fixture fails the test with what to do, never a skip. */
export function fixturePath(relative: string): string {
  const path = resolve(FIXTURES, relative);
  if (!existsSync(path)) {
    throw new Error(`Fixture ${path} is missing. The tests read real models and data sets from ../shared/fixtures beside the repository.`);
  }
  return path;
}
