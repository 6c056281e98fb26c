/**
 * `cocktail`: the studio's engine from the command line. Each command is a function from
 * arguments to an exit code; output goes to stdout, diagnostics to stderr.
 */
import { toErrorReport } from '../errors.ts';
import { AUDIT_USAGE, auditCommand } from './audit.ts';
import { EVAL_USAGE, evalCommand } from './eval.ts';
import { EXPERIMENT_USAGE, experimentCommand } from './experiment.ts';
import { GENERATE_USAGE, generateCommand } from './generate.ts';
import { EXPORT_USAGE, exportCommand } from './export.ts';
import { IMPORT_USAGE, importCommand } from './import.ts';
import { INFO_USAGE, infoCommand } from './info.ts';
import { MAKE_MODEL_USAGE, makeModelCommand } from './make-model.ts';
import { MERGE_USAGE, mergeCommand } from './merge.ts';
import { MIX_USAGE, mixCommand } from './mix.ts';
import { PLAN_USAGE, planCommand } from './plan.ts';
import { ROUTE_USAGE, ROUTER_USAGE, routeCommand, routerCommand } from './router.ts';
import { SELFTEST_USAGE, selfTestCommand } from './selftest.ts';
import { TRAIN_USAGE, trainCommand } from './train.ts';

/**
 * Every command: a one-line summary, its usage (printed by `cocktail <command> --help` and listed
 * in `cocktail help`) and its function. Help and --json error events are handled here, for all.
 */
interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  info: { summary: 'print the WebGPU adapter, its features and limits', usage: INFO_USAGE, run: infoCommand },
  selftest: { summary: 'check lora_linear on this GPU against the Float64 reference and time it', usage: SELFTEST_USAGE, run: selfTestCommand },
  generate: { summary: 'generate text with a model (and a PEFT adapter)', usage: GENERATE_USAGE, run: generateCommand },
  train: { summary: 'run a recipe: prepare its tasks, train LoRA, evaluate, export PEFT adapters (Ctrl-C pauses)', usage: TRAIN_USAGE, run: trainCommand },
  plan: { summary: "what a recipe's run needs on this GPU, part by part, and whether it fits (nothing downloaded but config.json)", usage: PLAN_USAGE, run: planCommand },
  audit: { summary: "audit a recipe's prepared tasks: balance, lengths, duplicates, leakage, bias probes, personal data", usage: AUDIT_USAGE, run: auditCommand },
  eval: { summary: "evaluate a recipe's tasks with a PEFT adapter (or the base model)", usage: EVAL_USAGE, run: evalCommand },
  experiment: { summary: "train arms of a recipe's tasks over seeds and report which tasks help the targets, with intervals (Ctrl-C pauses)", usage: EXPERIMENT_USAGE, run: experimentCommand },
  merge: { summary: 'write base model + PEFT adapter as one merged model in HF layout', usage: MERGE_USAGE, run: mergeCommand },
  import: { summary: 'read a task file as the Tasks page does: rows, columns, format, delimiter, every problem', usage: IMPORT_USAGE, run: importCommand },
  mix: { summary: "the order a recipe's run draws its tasks in, with counts and each task's probability per step", usage: MIX_USAGE, run: mixCommand },
  export: { summary: 'write a recipe for Axolotl, LLaMA-Factory or TRL: data, configuration, launch files, MAPPING.md', usage: EXPORT_USAGE, run: exportCommand },
  router: { summary: "train a router over a recipe's task adapters (balanced, early-stopped) and write its bundle, compare its held-out accuracy at every layer (router layers), or measure one against each task's own, the shared and the base model", usage: ROUTER_USAGE, run: routerCommand },
  route: { summary: "the router's probabilities for a prompt and the expert it chooses", usage: ROUTE_USAGE, run: routeCommand },
  'make-model': { summary: 'write a random-weight model of a config in HF layout', usage: MAKE_MODEL_USAGE, run: makeModelCommand },
};

const HELP_FLAGS = ['--help', '-h'];

export const USAGE = `Cocktail Studio: multi-task LoRA fine-tuning on WebGPU

usage: cocktail <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}\n             ${command.usage}`)
  .join('\n')}
  help       show this text; \`cocktail <command> --help\` shows one command's usage

environment:
  VK_ICD_FILENAMES   the Vulkan driver Dawn should use (by default the system's, else Debian chromium's SwiftShader)
  HF_ENDPOINT        where Hub ids are fetched from (default https://huggingface.co)
  HF_TOKEN           a Hub access token, for gated or private models and data sets
  COCKTAIL_CACHE     where Hub downloads are cached (default ~/.cache/cocktail-studio)`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`cocktail: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  if (args.some((arg) => HELP_FLAGS.includes(arg))) {
    console.log(`cocktail ${name}: ${command.summary}\n\nusage: ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    const report = toErrorReport(error);
    // With --json, stdout is a stream of JSON events; a failure is one more, so a reader never has to parse stderr.
    if (args.includes('--json')) console.log(JSON.stringify({ event: 'error', command: name, ...report }));
    console.error(`cocktail ${name}: ${report.message} [${report.code}]`);
    return 1;
  }
}
