/**
 * How the studio names the GPU job a request waits behind (the engine runs one at a time,
 * workers/gpu-queue.ts), for lines such as "Waiting for training to finish…".
 */
import type { CommandType } from '../../workers/protocol.ts';

const JOB_NAMES: Partial<Record<CommandType, string>> = {
  'train.run': 'training',
  'eval.run': 'an evaluation',
  'model.generate': 'another generation',
  'model.verify': 'the engine check',
  'gpu.selftest': 'the kernel self-test',
};

export function waitingFor(behind: CommandType): string {
  return `Waiting for ${JOB_NAMES[behind] ?? behind} to finish: the GPU runs one job at a time…`;
}
