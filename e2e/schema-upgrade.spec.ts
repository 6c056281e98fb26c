import { SCHEMA_REPLACED_MESSAGE, SCHEMA_VERSION } from '../app/store/idb.ts';
import { watchConsole } from './console.ts';
import { expect, FPB_FILE, importTaskFiles, test } from './studio.ts';

/**
 * Two tabs of the studio on different schema versions of its IndexedDB: the older tab's engine worker
 * holds a connection (it stored the imported file), and a newer release opening the database one version
 * up is not held forever by it. The older tab lets go at once and says to reload; nothing stored is lost.
 */
test('a tab whose database a newer version of the studio upgrades lets go, says to reload it, and nothing stored is lost', async ({ page, context }) => {
  const errors = watchConsole(page);
  await importTaskFiles(page, [FPB_FILE]);

  const newer = await context.newPage();
  await newer.goto('/#/start');
  const stored = await newer.evaluate(
    ([name, version]) =>
      new Promise<number>((done, fail) => {
        const request = indexedDB.open(name, version);
        request.onsuccess = () => {
          const db = request.result;
          const count = db.transaction('datasets').objectStore('datasets').count();
          count.onsuccess = () => {
            db.close();
            done(count.result);
          };
          count.onerror = () => fail(count.error);
        };
        request.onerror = () => fail(request.error);
      }),
    ['cocktail-studio', SCHEMA_VERSION + 1] as const,
  );
  expect(stored).toBeGreaterThan(0);

  await expect(page.getByTestId('schema-notice')).toContainText(SCHEMA_REPLACED_MESSAGE);
  await expect(page.getByTestId('schema-notice').getByRole('button', { name: 'Reload' })).toBeVisible();
  expect(errors).toEqual([]);
});
