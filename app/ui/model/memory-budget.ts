/**
 * The GPU memory budget the planner checks against. WebGPU does not say how much memory a GPU has,
 * so the default is a guess from the adapter's vendor and architecture that the user can correct.
 */
import type { AdapterSummary } from '../../gpu/device.ts';

export type AdapterKind = 'discrete' | 'integrated' | 'software' | 'unknown';

export interface BudgetGuess {
  kind: AdapterKind;
  bytes: number;
  /** Why this default, in words shown under the budget field. */
  reason: string;
}

const GiB = 2 ** 30;

export function adapterKind(adapter: AdapterSummary | undefined): AdapterKind {
  if (!adapter) return 'unknown';
  const vendor = adapter.vendor.toLowerCase();
  const architecture = adapter.architecture.toLowerCase();
  if (adapter.isFallbackAdapter || architecture === 'swiftshader' || architecture === 'lavapipe') return 'software';
  if (vendor === 'nvidia' || vendor === 'amd') return 'discrete';
  // Intel's discrete cards (Arc: Xe-HPG, Xe2-HPG) name their architecture; its other GPUs are integrated.
  if (vendor === 'intel') return architecture.includes('hpg') ? 'discrete' : 'integrated';
  if (['apple', 'qualcomm', 'arm', 'imagination', 'samsung'].includes(vendor)) return 'integrated';
  return 'unknown';
}

export function defaultBudget(adapter: AdapterSummary | undefined): BudgetGuess {
  const kind = adapterKind(adapter);
  switch (kind) {
    case 'discrete':
      return { kind, bytes: 8 * GiB, reason: 'This looks like a discrete GPU, so the default is 8 GiB; set it to your card’s memory less what other programs use.' };
    case 'integrated':
      return { kind, bytes: 2 * GiB, reason: 'This looks like an integrated GPU that shares the computer’s memory, so the default is a cautious 2 GiB.' };
    case 'software':
      return { kind, bytes: 2 * GiB, reason: 'This is a software adapter running on the CPU, so the default is a cautious 2 GiB.' };
    case 'unknown':
      return { kind, bytes: 2 * GiB, reason: 'The kind of GPU is unknown, so the default is a cautious 2 GiB.' };
  }
}
