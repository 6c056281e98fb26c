import { WANTED_FEATURES, type GpuInfo } from '../gpu/device.ts';
import { acquireNodeGpu } from '../gpu/node-gpu.ts';
import { parseFlags } from './args.ts';

export const INFO_USAGE = 'cocktail info [--json]';

export async function infoCommand(args: string[]): Promise<number> {
  const { json } = parseFlags('info', args, ['json']);
  const gpu = await acquireNodeGpu({ label: 'cocktail info' });
  console.log(json ? JSON.stringify(gpu.info, null, 2) : formatInfo(gpu.info));
  gpu.destroy();
  return 0;
}

export function formatInfo(info: GpuInfo): string {
  const { adapter } = info;
  const lines = [
    'WebGPU adapter',
    `  vendor        ${adapter.vendor || '-'}`,
    `  architecture  ${adapter.architecture || '-'}`,
    `  device        ${adapter.device || '-'}`,
    `  description   ${adapter.description || '-'}`,
    '',
    'Features the engine uses',
    ...WANTED_FEATURES.map((feature) => `  ${feature.padEnd(16)} ${info.wantedFeatures[feature] ? 'yes' : 'no'}`),
    '',
    `All features    ${info.features.join(', ')}`,
    '',
    'Limits',
    ...Object.entries(info.limits)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => `  ${name.padEnd(44)} ${value}`),
  ];
  return lines.join('\n');
}
