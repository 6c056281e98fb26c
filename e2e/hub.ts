/**
 * The Hub for end-to-end specs: test/hub-server.ts serving the real tiny model
 * ../shared/fixtures/models/aidreams260K in the Hub's URL layout, and the studio pointed at it.
 *
 *   test('...', async ({ page, hub }) => ...);       // most specs: the `hub` fixture of studio.ts does both below
 *   const hub = await startFixtureHub({ ...extra });  // a test that needs more repositories; hub.close() after
 *   await pointStudioAtHub(page, hub.endpoint);       // before page.goto
 *   // then load FIXTURE_MODEL ("fixtures/aidreams260K", revision "main") on the Model page
 */
import type { Page } from '@playwright/test';
import { fixturePath } from '../test/fixtures.ts';
import { startHubServer, type HubServer } from '../test/hub-server.ts';

/** The Hub id the fixture model is served under. */
export const FIXTURE_MODEL = 'fixtures/aidreams260K';

/** Where the fixture model's files are, for specs that open it as local files. */
export const FIXTURE_MODEL_DIR = fixturePath('models/aidreams260K');

/** localStorage key of the model slice's Hub endpoint setting. */
export const HUB_ENDPOINT_KEY = 'cocktail.hubEndpoint';

/**
 * Starts a hub serving the fixture model as FIXTURE_MODEL, plus any `extra` repositories
 * ({"owner/name" or "datasets/owner/name": folder}), e.g. the fixture under a suggested model's id.
 */
export function startFixtureHub(extra: Record<string, string> = {}): Promise<HubServer> {
  return startHubServer({ [FIXTURE_MODEL]: FIXTURE_MODEL_DIR, ...extra });
}

/** Makes the studio download from `endpoint` (set before any page script runs; call before goto). */
export async function pointStudioAtHub(page: Page, endpoint: string): Promise<void> {
  await page.addInitScript(([key, value]) => window.localStorage.setItem(key, value), [HUB_ENDPOINT_KEY, endpoint] as const);
}
