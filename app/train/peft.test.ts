import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { parseModelConfig, type ModelConfig } from '../model/config.ts';
import { initLoraAdapter, loraPairKey, loraScale, type LoraConfig } from '../model/lora.ts';
import { readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import { unzipSync } from 'fflate';
import { exportPeftAdapter, importPeftAdapter, peftBaseModel, unzipPeftAdapter, zipPeftAdapter } from './peft.ts';

const model = async (): Promise<ModelConfig> => parseModelConfig(JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')));
const LORA: LoraConfig = { r: 8, alpha: 16, dropout: 0.05, targets: ['q_proj', 'v_proj', 'down_proj'], rslora: false };

describe('LoRA initialisation', () => {
  it('starts with B = 0 and A within PEFT’s kaiming-uniform bound 1/√in', async () => {
    const adapter = initLoraAdapter(await model(), LORA, 1);
    const down = adapter.pairs.get(loraPairKey(3, 'down_proj'))!;
    expect(down.b.every((v) => v === 0)).toBe(true);
    const bound = 1 / Math.sqrt(172);
    expect(down.a.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Math.max(...down.a.map(Math.abs))).toBeGreaterThan(0.9 * bound);
  });

  it('scales by alpha/r, or alpha/√r with rsLoRA', () => {
    expect(loraScale({ r: 8, alpha: 16, rslora: false })).toBe(2);
    expect(loraScale({ r: 16, alpha: 16, rslora: true })).toBe(4);
  });
});

describe('PEFT adapter export and import', () => {
  it('writes PEFT’s adapter_config.json fields and tensor names, shapes and metadata', async () => {
    const config = await model();
    const files = exportPeftAdapter(initLoraAdapter(config, LORA, 2), config, 'aidreams/aidreams260K');
    const json = JSON.parse(files.config);
    expect(json).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, lora_dropout: 0.05, bias: 'none', fan_in_fan_out: false, use_rslora: false, use_dora: false, base_model_name_or_path: 'aidreams/aidreams260K', target_modules: ['down_proj', 'q_proj', 'v_proj'] });
    const weights = await readSafetensorsHeader(files.weights, 'adapter_model.safetensors');
    expect(weights.metadata).toEqual({ format: 'pt' });
    expect(weights.tensors.size).toBe(4 * 3 * 2);
    expect(weights.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')).toMatchObject({ dtype: 'F32', shape: [8, 64] });
    expect(weights.tensors.get('base_model.model.model.layers.3.mlp.down_proj.lora_B.weight')).toMatchObject({ dtype: 'F32', shape: [64, 8] });
  });

  it('imports what it exported, bit for bit, also through a zip', async () => {
    const config = await model();
    const adapter = initLoraAdapter(config, LORA, 3);
    adapter.pairs.get(loraPairKey(1, 'v_proj'))!.b.fill(0.25);
    const files = unzipPeftAdapter(await zipPeftAdapter(exportPeftAdapter(adapter, config, 'base')));
    const back = await importPeftAdapter(files, config);
    expect(back.config).toEqual({ ...LORA, targets: ['down_proj', 'q_proj', 'v_proj'] });
    for (const [key, pair] of adapter.pairs) {
      expect(back.pairs.get(key)!.a).toEqual(pair.a);
      expect(back.pairs.get(key)!.b).toEqual(pair.b);
    }
  });

  it('names the base model by its Hub id, or for a model opened from a folder by its config’s _name_or_path', () => {
    expect(peftBaseModel('HuggingFaceTB/SmolLM2-135M', { nameOrPath: 'elsewhere' })).toEqual({ name: 'HuggingFaceTB/SmolLM2-135M' });
    expect(peftBaseModel('local/Phi-3-mini-4k-instruct', { nameOrPath: 'microsoft/Phi-3-mini-4k-instruct' })).toEqual({ name: 'microsoft/Phi-3-mini-4k-instruct' });
    // The fixture's config.json has no _name_or_path: the folder is named, and the export says what to set.
    const local = peftBaseModel('local/aidreams260K', {});
    expect(local.name).toBe('aidreams260K');
    expect(local.note).toMatch(/set base_model_name_or_path to its Hub id or local path/);
  });

  it('reads _name_or_path from the config, and puts the note for Python users in the zip', async () => {
    const raw = JSON.parse(await readFile(fixturePath('models/aidreams260K/config.json'), 'utf8')) as Record<string, unknown>;
    // save_pretrained writes _name_or_path; the fixture's config was written without it.
    expect(parseModelConfig({ ...raw, _name_or_path: 'aidreams/aidreams260K' }).nameOrPath).toBe('aidreams/aidreams260K');
    expect(parseModelConfig({ ...raw, _name_or_path: '' }).nameOrPath).toBeUndefined();
    const config = await model();
    expect(config.nameOrPath).toBeUndefined();
    const base = peftBaseModel('local/aidreams260K', config);
    const zip = await zipPeftAdapter(exportPeftAdapter(initLoraAdapter(config, LORA, 7), config, base.name, base.note));
    const entries = unzipSync(zip);
    expect(JSON.parse(new TextDecoder().decode(entries['adapter_config.json'])).base_model_name_or_path).toBe('aidreams260K');
    expect(new TextDecoder().decode(entries['README.md'])).toBe(base.note);
    // Without a note the zip holds the two PEFT files only.
    expect(Object.keys(unzipSync(await zipPeftAdapter(exportPeftAdapter(initLoraAdapter(config, LORA, 7), config, 'aidreams/aidreams260K')))).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });

  it('refuses an adapter whose rank does not fit the tensors, naming the tensor', async () => {
    const config = await model();
    const files = exportPeftAdapter(initLoraAdapter(config, LORA, 4), config, 'base');
    const wrongRank = { ...files, config: files.config.replace('"r": 8', '"r": 4') };
    await expect(importPeftAdapter(wrongRank, config)).rejects.toThrow(/tensor "base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_A\.weight" has shape \[8, 172\]; this model needs \[4, 172\]/);
  });

  it('refuses DoRA and non-LoRA adapters, naming the field', async () => {
    const config = await model();
    const files = exportPeftAdapter(initLoraAdapter(config, LORA, 5), config, 'base');
    await expect(importPeftAdapter({ ...files, config: files.config.replace('"use_dora": false', '"use_dora": true') }, config)).rejects.toThrow(/use_dora is true/);
    await expect(importPeftAdapter({ ...files, config: files.config.replace('"peft_type": "LORA"', '"peft_type": "IA3"') }, config)).rejects.toThrow(/only LORA adapters/);
  });

  it('accepts module paths in target_modules, as PEFT writes them for some models', async () => {
    const config = await model();
    const files = exportPeftAdapter(initLoraAdapter(config, { ...LORA, targets: ['q_proj'] }, 6), config, 'base');
    const withPaths = { ...files, config: files.config.replace('"q_proj"', '"self_attn.q_proj"') };
    expect((await importPeftAdapter(withPaths, config)).config.targets).toEqual(['q_proj']);
  });

  it('says which file is missing from a zip', () => {
    expect(() => unzipPeftAdapter(new Uint8Array([1, 2, 3]), 'mine.zip')).toThrow(/mine\.zip is not a readable zip/);
  });
});

describe('PEFT adapters with parts the engine would not apply', () => {
  const PREFIX = 'base_model.model.model.layers';
  /** The exported adapter's tensors plus extra ones, as another trainer might write them. */
  async function withExtraTensors(extra: TensorToWrite[], configChange: (config: Record<string, unknown>) => Record<string, unknown> = (c) => c) {
    const config = await model();
    const files = exportPeftAdapter(initLoraAdapter(config, { ...LORA, targets: ['q_proj'] }, 7), config, 'base');
    const header = await readSafetensorsHeader(files.weights, 'adapter_model.safetensors');
    const tensors: TensorToWrite[] = [];
    for (const entry of header.tensors.values()) {
      tensors.push({ name: entry.name, dtype: 'F32', shape: [...entry.shape], data: new Uint8Array(await files.weights.slice(header.dataStart + entry.begin, header.dataStart + entry.end).arrayBuffer()) });
    }
    const f32 = (shape: readonly number[]) => new Uint8Array(new Float32Array(shape.reduce((a, b) => a * b, 1)).buffer);
    tensors.push(...extra.map((t) => ({ ...t, data: t.data.byteLength > 0 ? t.data : f32(t.shape) })));
    return { adapter: { config: JSON.stringify(configChange(JSON.parse(files.config) as Record<string, unknown>)), weights: writeSafetensors(tensors, { format: 'pt' }), location: '/adapters/mine' }, config };
  }
  const extra = (name: string, shape: number[]): TensorToWrite => ({ name, dtype: 'F32', shape, data: new Uint8Array(0) });

  it('refuses tensors for layers past the model’s, naming them and the model’s layer count', async () => {
    const { adapter, config } = await withExtraTensors([extra(`${PREFIX}.4.self_attn.q_proj.lora_A.weight`, [8, 64]), extra(`${PREFIX}.4.self_attn.q_proj.lora_B.weight`, [64, 8])]);
    await expect(importPeftAdapter(adapter, config)).rejects.toThrow(
      /\/adapters\/mine\/adapter_model\.safetensors: 2 tensor\(s\) this model cannot use would be ignored: "base_model\.model\.model\.layers\.4\.self_attn\.q_proj\.lora_A\.weight" \(layer 4, but the model has 4 layers \(0 to 3\)\)/,
    );
  });

  it('refuses modules_to_save, both as a setting and as tensors', async () => {
    const asTensor = await withExtraTensors([extra('base_model.model.lm_head.modules_to_save.default.weight', [512, 64])]);
    await expect(importPeftAdapter(asTensor.adapter, asTensor.config)).rejects.toThrow(/"base_model\.model\.lm_head\.modules_to_save\.default\.weight" \(a fully trained module \(modules_to_save\), not LoRA\)/);
    const asSetting = await withExtraTensors([], (c) => ({ ...c, modules_to_save: ['lm_head'] }));
    await expect(importPeftAdapter(asSetting.adapter, asSetting.config)).rejects.toMatchObject({ code: 'ADAPTER_INVALID', message: expect.stringMatching(/adapter_config\.json: modules_to_save lists "lm_head"/), details: { field: 'modules_to_save' } });
  });

  it('refuses LoRA pairs for targets target_modules does not list', async () => {
    const { adapter, config } = await withExtraTensors([extra(`${PREFIX}.0.self_attn.v_proj.lora_A.weight`, [8, 64])]);
    await expect(importPeftAdapter(adapter, config)).rejects.toThrow(/"base_model\.model\.model\.layers\.0\.self_attn\.v_proj\.lora_A\.weight" \(target v_proj, which adapter_config\.json's target_modules does not list\)/);
  });

  it('refuses bias other than "none", and bias tensors', async () => {
    const setting = await withExtraTensors([], (c) => ({ ...c, bias: 'lora_only' }));
    await expect(importPeftAdapter(setting.adapter, setting.config)).rejects.toThrow(/adapter_config\.json: bias is "lora_only"; this engine applies LoRA without trained biases/);
    const tensor = await withExtraTensors([extra(`${PREFIX}.0.self_attn.q_proj.bias`, [64])]);
    await expect(importPeftAdapter(tensor.adapter, tensor.config)).rejects.toThrow(/q_proj\.bias" \(a bias; LoRA here trains no biases/);
  });

  it('refuses layers_to_transform and DoRA magnitudes', async () => {
    const layers = await withExtraTensors([], (c) => ({ ...c, layers_to_transform: [0, 1] }));
    await expect(importPeftAdapter(layers.adapter, layers.config)).rejects.toMatchObject({ details: { field: 'layers_to_transform' }, message: expect.stringMatching(/layers_to_transform is \[0,1\]; this engine applies LoRA to every layer/) });
    const dora = await withExtraTensors([extra(`${PREFIX}.0.self_attn.q_proj.lora_magnitude_vector.default.weight`, [64])]);
    await expect(importPeftAdapter(dora.adapter, dora.config)).rejects.toThrow(/lora_magnitude_vector\.default\.weight" \(a DoRA magnitude; DoRA is not supported\)/);
  });

  it('names adapter_config.json and lora_alpha when lora_alpha is missing, not a recipe field', async () => {
    const { adapter, config } = await withExtraTensors([], ({ lora_alpha: _alpha, ...c }) => c);
    const failure = await importPeftAdapter(adapter, config).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'ADAPTER_INVALID', message: '/adapters/mine/adapter_config.json: lora_alpha is missing; it must be a positive number (PEFT writes it)', details: { field: 'lora_alpha' } });
    expect((failure as Error).message).not.toMatch(/lora\.alpha/);
  });

  it('refuses NaN and Inf values, naming the tensor and the element', async () => {
    const config = await model();
    const adapter = initLoraAdapter(config, { ...LORA, targets: ['v_proj'] }, 8);
    adapter.pairs.get(loraPairKey(2, 'v_proj'))!.a[7] = Number.NaN;
    await expect(importPeftAdapter(exportPeftAdapter(adapter, config, 'base'), config)).rejects.toMatchObject({
      code: 'ADAPTER_NONFINITE',
      message: expect.stringMatching(/^adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.2\.self_attn\.v_proj\.lora_A\.weight" holds NaN at element 7/),
    });
  });
});
