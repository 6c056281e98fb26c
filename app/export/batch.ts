/**
 * The recipe's batch on a cluster: per-device batch × devices × accumulation = batch_size × grad_accum,
 * the examples of one optimizer step, so the learning rate and the step count mean the same there.
 */
import { CocktailError } from '../errors.ts';
import type { Recipe } from '../train/recipe.ts';

export interface ClusterShape {
  gpus: number;
  nodes: number;
}

export interface ClusterBatch {
  perDevice: number;
  accumulation: number;
  devices: number;
  /** Examples per optimizer step: the recipe's batch_size × grad_accum. */
  global: number;
}

export function clusterBatch(recipe: Pick<Recipe, 'batch_size' | 'grad_accum'>, { gpus, nodes }: ClusterShape): ClusterBatch {
  for (const [name, value] of [['gpus', gpus], ['nodes', nodes]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new CocktailError('BAD_ARGUMENT', `--${name} must be a whole number of at least 1, got ${value}`, { field: name });
  }
  const devices = gpus * nodes;
  const global = recipe.batch_size * recipe.grad_accum;
  if (global % devices !== 0) {
    throw new CocktailError(
      'EXPORT_BATCH_INDIVISIBLE',
      `the recipe's ${global} examples per step (batch_size ${recipe.batch_size} × grad_accum ${recipe.grad_accum}) cannot be shared evenly by ${devices} GPUs (${gpus} per node × ${nodes} nodes); choose a GPU count that divides ${global}, or change the batch`,
      { field: 'batch_size', global, devices },
    );
  }
  const perDeviceStep = global / devices;
  // The largest per-device batch not above the recipe's, so a device holds no more than the studio did.
  let perDevice = Math.min(recipe.batch_size, perDeviceStep);
  while (perDeviceStep % perDevice !== 0) perDevice--;
  return { perDevice, accumulation: perDeviceStep / perDevice, devices, global };
}
