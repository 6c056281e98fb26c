import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { fixturePath } from '../test/fixtures.ts';
import { noGpu, startTestEngine, TEST_REPO, type TestEngine } from '../test/engine.ts';
import { TASK_FILE_PREFIX } from '../app/store/keys.ts';
import type { EngineError } from '../app/state/bridge.ts';
import type { TrainProgress } from './protocol.ts';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine(noGpu('an export reads the tokenizer only'));
  // The task file as the Tasks page stores it.
  await engine.storage.put('datasets', `${TASK_FILE_PREFIX}Sentences_50Agree.txt`, { name: 'Sentences_50Agree.txt' }, new Uint8Array(await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))));
});
afterAll(() => engine.close());

const recipe = {
  name: 'phrases',
  model: { source: TEST_REPO },
  tasks: [{ name: 'phrases', source: { file: 'Sentences_50Agree.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, max_examples: 12 }],
  lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] },
  batch_size: 2,
  max_length: 64,
  steps: 3,
};

describe('export.recipe: the Recipes page\'s download for a cluster', { timeout: 120_000 }, () => {
  it('zips the export of the studio\'s recipe, with its task file copied in and the premixed rows of the whole run', async () => {
    const stages: string[] = [];
    const result = await engine.bridge.request(
      'export.recipe',
      { recipe, target: 'axolotl', mode: 'premixed', gpus: 1, nodes: 1, hubEndpoint: engine.server.endpoint },
      { onProgress: (progress: TrainProgress) => void (progress.kind === 'stage' && stages.push(progress.stage)) },
    );
    expect(stages).toEqual(['model', 'data', 'export']);
    expect(result.fileName).toBe('phrases-axolotl-premixed.zip');
    expect(result.copiedSources).toEqual(['sources/phrases/Sentences_50Agree.txt']);
    const entries = unzipSync(result.zip);
    const file = (path: string) => new TextDecoder().decode(entries[`phrases-axolotl-premixed/${path}`]);
    expect(Object.keys(entries)).toEqual(expect.arrayContaining(['phrases-axolotl-premixed/config.yml', 'phrases-axolotl-premixed/run.sh', 'phrases-axolotl-premixed/MAPPING.md', 'phrases-axolotl-premixed/README.md', 'phrases-axolotl-premixed/ds_zero2.json']));
    expect(entries['phrases-axolotl-premixed/sources/phrases/Sentences_50Agree.txt']).toEqual(new Uint8Array(await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))));
    expect(YAML.parse(file('config.yml'))).toMatchObject({ base_model: TEST_REPO, micro_batch_size: 2, max_steps: 3, shuffle_merged_datasets: false });
    expect(file('data/premixed.jsonl').trim().split('\n')).toHaveLength(3 * 2);
    expect(JSON.parse(file('recipe.json'))).toMatchObject({ tasks: [{ source: { file: 'sources/phrases/Sentences_50Agree.txt' } }] });
    expect(result.notes.map((note) => note.field)).toContain('lora.dropout');
  });

  it('refuses an unknown engine with the list of engines', async () => {
    const failure = (await engine.bridge.request('export.recipe', { recipe, target: 'unsloth', mode: 'native', gpus: 1, nodes: 1 }).catch((error: unknown) => error)) as EngineError;
    expect(failure.code).toBe('EXPORT_UNKNOWN_TARGET');
    expect(failure.message).toContain('axolotl, llamafactory, trl');
  });
});
