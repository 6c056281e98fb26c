import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RECIPE } from '../app/studio/presets.ts';
import { watchConsole } from './console.ts';
import { FIXTURE_MODEL_DIR, pointStudioAtHub, startFixtureHub } from './hub.ts';
import { expect, FPB_FILE, importTaskFiles, seedRecipe, test } from './studio.ts';

/** The fixture model with a ChatML chat template beside it, as SmolLM2 and Qwen2.5 ship theirs. */
const CHAT_MODEL = 'fixtures/aidreams260K-chatml';
const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

test('a model with a chat template renders every example through it in the browser, and only the answer carries loss', async ({ page }) => {
  const errors = watchConsole(page);
  const dir = await mkdtemp(join(tmpdir(), 'chat-model-'));
  await cp(FIXTURE_MODEL_DIR, dir, { recursive: true });
  await writeFile(join(dir, 'chat_template.jinja'), CHATML);
  const hub = await startFixtureHub({ [CHAT_MODEL]: dir });
  try {
    await pointStudioAtHub(page, hub.endpoint);
    await seedRecipe(page, { ...DEFAULT_RECIPE, model: { source: CHAT_MODEL, revision: 'main' }, tasks: [] }, 'if-absent');
    await importTaskFiles(page, [FPB_FILE]);
    const mapping = page.getByTestId('file-mapping').getByRole('form', { name: 'Column mapping' });
    await expect(mapping.getByLabel('Recipe format')).toHaveValue('classification');
    await mapping.getByLabel('Task name').fill('phrases');
    await mapping.getByRole('button', { name: 'Add to recipe' }).click();

    const task = page.getByRole('list', { name: 'Tasks in the recipe' }).getByRole('listitem').filter({ hasText: 'phrases' });
    await task.getByRole('button', { name: 'Show tokens' }).click();
    const first = page.getByTestId('token-example').first();
    await expect(first).toBeVisible({ timeout: 120_000 });
    const text = (selector: string) => first.locator(selector).allTextContents().then((pieces) => pieces.join(''));
    // The template's turn markers are there (the tiny model has no special tokens for them, so they are plain text) ...
    const all = await text('.token');
    expect(all).toContain('<|im_start|>user↵');
    expect(all).toContain('<|im_end|>↵<|im_start|>assistant↵');
    // ... and loss falls on the assistant's answer (the label word and the turn's end), never on the user turn.
    const trained = await text('.token[data-trained="true"]');
    expect(trained).toMatch(/^(negative|neutral|positive)<\|im_end\|>/);
    expect(trained).not.toContain('im_start');
    expect(errors).toEqual([]);
  } finally {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  }
});
