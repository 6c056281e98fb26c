/**
 * What most end-to-end specs set up before they drive the studio: a fixture Hub the studio downloads
 * from, the recipe it starts with, and the two real task files imported on the Tasks page.
 *
 *   import { expect, test } from './studio.ts';
 *   test('...', async ({ page, hub }) => { ... });   // a fresh Hub, the studio pointed at it
 *   test('...', async ({ page, hub: _hub }) => ...);  // the same, where the test never touches the server
 */
import { test as base, expect, type Page } from '@playwright/test';
import { fixturePath } from '../test/fixtures.ts';
import type { HubServer } from '../test/hub-server.ts';
import { pointStudioAtHub, startFixtureHub } from './hub.ts';

export { expect };

export const test = base.extend<{ hub: HubServer }>({
  /**
   * A Hub serving the fixture model, with the studio pointed at it before the test opens any page.
   * Test-scoped, so only tests that ask for it start one, and no throttle, request log or closed
   * server carries over to the next test. A test may close it itself to go offline: closing an
   * already closed server resolves (test/hub-server.ts), so the close here is harmless then.
   * (Playwright's docs call `runTest` `use`; that name would trip React's rules-of-hooks lint.)
   */
  hub: async ({ page }, runTest) => {
    const hub = await startFixtureHub();
    try {
      await pointStudioAtHub(page, hub.endpoint);
      await runTest(hub);
    } finally {
      await hub.close();
    }
  },
});

/** The recipe slice's localStorage key (app/state/slices/recipe.ts; importing it here would load the JSON schema, which Node refuses without an import attribute). */
export const RECIPE_KEY = 'cocktail.recipe.v1';

/**
 * Seeds the studio's recipe before its scripts run (call before page.goto). When, on each page load:
 * - 'always': every load, a reload included, as if the recipe had just been saved;
 * - 'if-absent': only while no recipe is stored, so a reload keeps what the page saved since;
 * - 'once': only on the tab's first load, even if the page later clears the recipe.
 */
export async function seedRecipe(page: Page, recipe: unknown, when: 'always' | 'if-absent' | 'once'): Promise<void> {
  await page.addInitScript(
    ([key, json, when]) => {
      if (when === 'if-absent' && window.localStorage.getItem(key)) return;
      if (when === 'once') {
        // sessionStorage lives as long as the tab, across reloads: it remembers that this tab was seeded.
        if (window.sessionStorage.getItem(`${key}.seeded`)) return;
        window.sessionStorage.setItem(`${key}.seeded`, '1');
      }
      window.localStorage.setItem(key, json);
    },
    [RECIPE_KEY, JSON.stringify(recipe), when] as const,
  );
}

/** A task file and the import settings that read it right. */
export interface TaskFile {
  path: string;
  /** The file's name, as the import summary shows it. */
  name: string;
  /** The Delimiter option's label. */
  delimiter: string;
  /** The "First row is a header" option's label. */
  header: string;
}

/** Financial PhraseBank: "sentence@label" lines, no header. */
export const FPB_FILE: TaskFile = { path: fixturePath('datasets/fpb/Sentences_50Agree.txt'), name: 'Sentences_50Agree.txt', delimiter: 'At sign (@)', header: 'No' };

/** The finance tweets: a CSV with a header, labels 0/1/2. */
export const TWEETS_FILE: TaskFile = { path: fixturePath('datasets/twitter_fin_sentiment/sent_train.csv'), name: 'sent_train.csv', delimiter: 'Comma (,)', header: 'Yes' };

/** FPB_FILE and TWEETS_FILE as recipe tasks, 40 training examples each: small enough to train on SwiftShader. */
export const PHRASES_TASK = {
  name: 'phrases',
  source: { file: 'Sentences_50Agree.txt', delimiter: '@', header: false },
  format: 'classification',
  columns: { text: 0, label: 1 },
  metric: 'accuracy',
  role: 'task',
  validation_fraction: 0.1,
  max_examples: 40,
};
export const TWEETS_TASK = {
  name: 'tweets',
  source: { file: 'sent_train.csv' },
  format: 'classification',
  columns: { text: 'text', label: 'label' },
  labels: { '0': 'bearish', '1': 'bullish', '2': 'neutral' },
  metric: 'accuracy',
  role: 'task',
  validation_fraction: 0.1,
  max_examples: 40,
};

/** Imports task files on the Tasks page as a user does, waiting for each import's summary. */
export async function importTaskFiles(page: Page, files: TaskFile[]): Promise<void> {
  await page.goto('/#/tasks');
  for (const file of files) {
    await page.getByLabel('Delimiter').selectOption({ label: file.delimiter });
    await page.getByLabel('First row is a header').selectOption({ label: file.header });
    await page.getByLabel('Choose a task file…').setInputFiles(file.path);
    await expect(page.getByTestId('import-summary')).toContainText(file.name, { timeout: 60_000 });
  }
}

/**
 * What a spec does before it works with a trained run: seeds the recipe (every load), imports its task
 * files on the Tasks page, starts it on the Train page and waits until all its steps are done.
 */
export async function trainRecipe(page: Page, recipe: { name: string; steps: number }, files: TaskFile[]): Promise<void> {
  await seedRecipe(page, recipe, 'always');
  await importTaskFiles(page, files);
  await page.goto('/#/train');
  await page.getByRole('button', { name: /^Start( a new run)?$/ }).click();
  await expect(page.getByRole('status').filter({ hasText: `${recipe.name}:` })).toContainText(`Completed: ${recipe.steps} steps.`, { timeout: 240_000 });
}
