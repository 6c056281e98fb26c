/**
 * LoRA adapters on the CPU side: their configuration, PEFT's initialisation, and the container that
 * checkpoints, export and import pass around. The GPU copies live with the model graph.
 */
import { CocktailError } from '../errors.ts';
import { Random } from '../util/random.ts';
import { LORA_TARGETS, loraTargetsOf, projectionFeatures, type LoraTarget, type ModelConfig } from './config.ts';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targets: LoraTarget[];
  /** rsLoRA scales by alpha/sqrt(r) instead of alpha/r. */
  rslora: boolean;
}

export interface LoraPair {
  /** [r, in] */
  a: Float32Array;
  /** [out, r] */
  b: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export interface LoraAdapter {
  config: LoraConfig;
  /** Keyed by loraPairKey(layer, target). */
  pairs: Map<string, LoraPair>;
}

export const loraPairKey = (layer: number, target: LoraTarget): string => `${layer}.${target}`;

export function loraScale(config: Pick<LoraConfig, 'r' | 'alpha' | 'rslora'>): number {
  return config.rslora ? config.alpha / Math.sqrt(config.r) : config.alpha / config.r;
}

/** in and out features of a projection, from the model config; a target the architecture does not have is refused by name. */
export function projectionShape(model: ModelConfig, target: LoraTarget): { inFeatures: number; outFeatures: number } {
  const targets = loraTargetsOf(model);
  if (!targets.includes(target)) {
    const fused = model.fusedProjections
      ? ' Its attention projections are fused into qkv_proj and its MLP gate and up into gate_up_proj, as PEFT names them for Phi-3.'
      : ' qkv_proj and gate_up_proj exist only in models with fused projections (Phi-3, Phi-4-mini).';
    throw new CocktailError('LORA_TARGET_UNSUPPORTED', `lora.targets: ${model.architecture} has no ${target}; its projections are ${targets.join(', ')}.${fused}`, { field: 'lora.targets', target });
  }
  return projectionFeatures(model, target);
}

export function validateLoraConfig(config: LoraConfig): void {
  const fail = (field: string, problem: string) => new CocktailError('LORA_CONFIG_INVALID', `lora.${field}: ${problem}`, { field: `lora.${field}` });
  if (!Number.isSafeInteger(config.r) || config.r < 1 || config.r > 1024) throw fail('r', `rank must be an integer from 1 to 1024, got ${config.r}`);
  if (!(config.alpha > 0)) throw fail('alpha', `must be a positive number, got ${config.alpha}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw fail('dropout', `must be in [0, 1), got ${config.dropout}`);
  if (config.targets.length === 0) throw fail('targets', `name at least one of ${Object.keys(LORA_TARGETS).join(', ')}`);
  for (const target of config.targets) if (!(target in LORA_TARGETS)) throw fail('targets', `"${target}" is not one of ${Object.keys(LORA_TARGETS).join(', ')}`);
}

/**
 * A fresh adapter as PEFT initialises one: A from kaiming_uniform_(a=√5), which is U(−1/√in, 1/√in),
 * and B = 0, so the adapted model starts exactly equal to the base model.
 */
export function initLoraAdapter(model: ModelConfig, config: LoraConfig, seed: number): LoraAdapter {
  validateLoraConfig(config);
  const random = Random.fromSeed(seed);
  const pairs = new Map<string, LoraPair>();
  for (let layer = 0; layer < model.numLayers; layer++) {
    for (const target of config.targets) {
      const { inFeatures, outFeatures } = projectionShape(model, target);
      const bound = 1 / Math.sqrt(inFeatures);
      pairs.set(loraPairKey(layer, target), {
        a: random.fillUniform(new Float32Array(config.r * inFeatures), -bound, bound),
        b: new Float32Array(outFeatures * config.r),
        inFeatures,
        outFeatures,
      });
    }
  }
  return { config: { ...config, targets: [...config.targets] }, pairs };
}
