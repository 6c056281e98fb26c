/**
 * How to start the exported run: run.sh (one GPU, several GPUs on one node, several nodes), a DeepSpeed
 * ZeRO-2 configuration for more than one GPU, and README.md saying all of it in words.
 */
import { AXOLOTL_CONFIG } from './axolotl.ts';
import { LLAMAFACTORY_CONFIG, LLAMAFACTORY_PREPARE } from './llamafactory.ts';
import { DEEPSPEED_CONFIG, OUTPUT_DIR, type ExportFiles, type ExportPlan } from './plan.ts';
import { TARGET_TITLES, type ExportTarget } from './targets.ts';
import { TRL_FILES } from './trl.ts';

interface Commands {
  install: string;
  single: string;
  node: string;
  nodes: string;
}

const RENDEZVOUS = '--nnodes "$NODES" --nproc_per_node "$GPUS" --node_rank "$NODE_RANK" --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT" --rdzv_id "$RUN_ID"';

function commands(target: ExportTarget): Commands {
  switch (target) {
    case 'axolotl':
      return {
        install: 'pip install axolotl deepspeed',
        single: `accelerate launch -m axolotl.cli.train ${AXOLOTL_CONFIG}`,
        node: `accelerate launch --num_processes "$GPUS" -m axolotl.cli.train ${AXOLOTL_CONFIG}`,
        nodes: `torchrun ${RENDEZVOUS} -m axolotl.cli.train ${AXOLOTL_CONFIG}`,
      };
    case 'llamafactory':
      // LLaMA-Factory's own launcher runs torchrun when FORCE_TORCHRUN is set (its README, "multi-node").
      return {
        install: 'pip install llamafactory deepspeed',
        single: `llamafactory-cli train ${LLAMAFACTORY_CONFIG}`,
        node: `FORCE_TORCHRUN=1 NPROC_PER_NODE="$GPUS" llamafactory-cli train ${LLAMAFACTORY_CONFIG}`,
        nodes: `FORCE_TORCHRUN=1 NNODES="$NODES" NPROC_PER_NODE="$GPUS" NODE_RANK="$NODE_RANK" MASTER_ADDR="$MASTER_ADDR" MASTER_PORT="$MASTER_PORT" llamafactory-cli train ${LLAMAFACTORY_CONFIG}`,
      };
    case 'trl':
      return {
        install: 'pip install trl peft accelerate datasets deepspeed',
        single: `python ${TRL_FILES.script}`,
        node: `accelerate launch --num_processes "$GPUS" ${TRL_FILES.script}`,
        nodes: `torchrun ${RENDEZVOUS} ${TRL_FILES.script}`,
      };
  }
}

export function runScript(plan: ExportPlan): string {
  const { gpus, nodes } = plan.shape;
  const run = commands(plan.target);
  const prepare = plan.target === 'llamafactory' && plan.mode === 'premixed' ? `\n# LLaMA-Factory reads pre-tokenized rows as a saved data set: build it once.\n[ -d data/premixed_tokenized ] || python ${LLAMAFACTORY_PREPARE}\n` : '';
  return `#!/usr/bin/env bash
# ${TARGET_TITLES[plan.target]}, ${plan.mode} mode: recipe "${plan.recipe.name ?? 'recipe'}" exported by Cocktail Studio for ${gpus} GPU(s) per node on ${nodes} node(s).
#   one GPU:              ./run.sh                      (when exported with --gpus 1)
#   GPUs of one node:     ./run.sh                      (GPUS=${gpus})
#   several nodes:        NODE_RANK=<0..${Math.max(0, nodes - 1)}> MASTER_ADDR=<address of node 0> ./run.sh   on every node
# The batch in the configuration is split for exactly GPUS x NODES devices; export again with --gpus/--nodes for another count.
set -euo pipefail
cd "$(dirname "$0")"
GPUS="\${GPUS:-${gpus}}"
NODES="\${NODES:-${nodes}}"
NODE_RANK="\${NODE_RANK:-0}"
MASTER_ADDR="\${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="\${MASTER_PORT:-29500}"
RUN_ID="\${RUN_ID:-cocktail}"
if [ "$((GPUS * NODES))" -ne ${plan.batch.devices} ]; then
  echo "run.sh: this export splits each step's ${plan.batch.global} examples over ${plan.batch.devices} device(s), not $((GPUS * NODES)); export again with --gpus and --nodes" >&2
  exit 2
fi
${prepare}
if [ "$NODES" -gt 1 ]; then
  ${run.nodes}
elif [ "$GPUS" -gt 1 ]; then
  ${run.node}
else
  ${run.single}
fi
`;
}

/** ZeRO-2 with every size left to the Trainer ("auto"), as transformers' DeepSpeed integration documents. */
export const DEEPSPEED_ZERO2 = {
  train_micro_batch_size_per_gpu: 'auto',
  gradient_accumulation_steps: 'auto',
  gradient_clipping: 'auto',
  zero_allow_untested_optimizer: true,
  bf16: { enabled: 'auto' },
  fp16: { enabled: 'auto' },
  zero_optimization: { stage: 2, allgather_partitions: true, allgather_bucket_size: 5e8, overlap_comm: true, reduce_scatter: true, reduce_bucket_size: 5e8, contiguous_gradients: true },
};

export function readme(plan: ExportPlan, copiedSources: readonly string[]): string {
  const run = commands(plan.target);
  const title = TARGET_TITLES[plan.target];
  const data =
    plan.mode === 'premixed'
      ? `\`data/premixed.jsonl\` holds every example of the run, ${plan.premixed?.length ?? 0} rows, pre-tokenized (input_ids, attention_mask, labels with -100 where no loss is taken) in exactly the order Cocktail Studio's sampler draws them (\`cocktail mix --recipe … --json\` prints the same sequence); each row's \`task\` names its task. The configuration reads it in order, once, without packing.`
      : `\`data/\` holds each task's training${plan.tasks.some((task) => task.validation.length > 0) ? ' and validation' : ''} examples in ${title}'s own format, rendered with the recipe's template, so ${title} trains on the text the studio trained on.`;
  return `# ${plan.recipe.name ?? 'Recipe'} for ${title} (${plan.mode} mode)

Exported by Cocktail Studio. ${data}

Install: \`${run.install}\` (DeepSpeed only for more than one GPU).

| where | command |
| --- | --- |
| one GPU | \`${run.single}\` |
| ${plan.shape.gpus} GPUs of one node | \`${run.node.replace(/"\$GPUS"/g, String(plan.shape.gpus))}\` (with \`${DEEPSPEED_CONFIG}\`, ZeRO-2) |
| several nodes | \`${run.nodes}\` on every node, \`NODE_RANK\` from 0, \`MASTER_ADDR\` the address of node 0 |

\`./run.sh\` runs the right one for this export: ${plan.shape.gpus} GPU(s) per node, ${plan.shape.nodes} node(s). The configuration splits each
optimizer step's ${plan.batch.global} examples (the recipe's batch_size × grad_accum) as ${plan.batch.perDevice} per device × ${plan.batch.devices} device(s) × ${plan.batch.accumulation} accumulation steps,
so a different device count needs a new export (\`--gpus N --nodes M\`); run.sh refuses one that does not match.

The adapter lands in \`${OUTPUT_DIR}/\` (and \`${OUTPUT_DIR}/checkpoint-N/\` along the way). Bring it back with
\`cocktail eval --recipe recipe.json --adapter ${OUTPUT_DIR}\` or zip \`${OUTPUT_DIR}\` and import it on the studio's Library page; the
Evaluate page then compares it with the adapter trained in the browser.

MAPPING.md lists every recipe field and what it became here, and what could not be carried over exactly.
${copiedSources.length > 0 ? `\nThe recipe's local task files are copied into \`sources/\` (${copiedSources.map((s) => `\`${s}\``).join(', ')}), and \`recipe.json\` points at them, so nothing refers to a path of the machine that exported it.\n` : ''}`;
}

export function launchFiles(plan: ExportPlan, files: ExportFiles, copiedSources: readonly string[]): void {
  files.set('run.sh', runScript(plan));
  files.set(DEEPSPEED_CONFIG, `${JSON.stringify(DEEPSPEED_ZERO2, null, 2)}\n`);
  files.set('README.md', readme(plan, copiedSources));
}
