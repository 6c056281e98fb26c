/**
 * Starting points for the studio: the small Hub models that fit a laptop GPU, the default recipe a
 * new project starts from, and the "Finance cocktail" of arXiv 2410.01109 (phrase and tweet
 * sentiment as tasks, general instructions and math word problems as regularizers).
 */
import type { Recipe, RecipeTask } from '../train/recipe.ts';

export interface SuggestedModel {
  id: string;
  parameters: string;
  /** Download size of the safetensors weights. */
  download: string;
  note: string;
}

export const SUGGESTED_MODELS: readonly SuggestedModel[] = [
  { id: 'HuggingFaceTB/SmolLM2-135M-Instruct', parameters: '135M', download: '270 MB', note: 'fits almost any GPU; the quickest to train' },
  { id: 'HuggingFaceTB/SmolLM2-360M-Instruct', parameters: '360M', download: '724 MB', note: 'better answers, still light' },
  { id: 'Qwen/Qwen2.5-0.5B-Instruct', parameters: '494M', download: '988 MB', note: 'strong for its size; large vocabulary (151,936)' },
  { id: 'Qwen/Qwen3-0.6B', parameters: '596M', download: '1.5 GB', note: 'thinks step by step or answers directly; large vocabulary (151,936)' },
  { id: 'google/gemma-3-270m', parameters: '268M', download: '536 MB', note: 'made for task-specific fine-tuning; gated: accept the Gemma licence on the Hub first; large vocabulary (262,144)' },
  { id: 'google/gemma-3-1b-it', parameters: '1.0B', download: '2.0 GB', note: 'gated: accept the Gemma licence on the Hub first; large vocabulary (262,144); needs a discrete GPU' },
  { id: 'meta-llama/Llama-3.2-1B-Instruct', parameters: '1.24B', download: '2.5 GB', note: 'gated: accept the licence on the Hub first; needs a discrete GPU' },
  { id: 'microsoft/Phi-4-mini-instruct', parameters: '3.84B', download: '7.7 GB', note: 'successor of the cocktail paper’s Phi-3-Mini; 200,064-token vocabulary; needs a large discrete GPU' },
  { id: 'microsoft/Phi-3-mini-4k-instruct', parameters: '3.82B', download: '7.6 GB', note: 'the cocktail paper’s best model; attends over a 2,047-token sliding window; needs a large discrete GPU' },
  { id: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', parameters: '1.1B', download: '2.2 GB', note: 'classic Llama 2 architecture; needs a discrete GPU' },
];

export const DEFAULT_MODEL = SUGGESTED_MODELS[0]!.id;

/** Everything but the model and the tasks: defaults a first run on a laptop can use as they are. */
export const DEFAULT_RECIPE: Recipe = {
  name: 'My cocktail',
  model: { source: DEFAULT_MODEL, revision: 'main' },
  tasks: [],
  mixture: { strategy: 'temperature', temperature: 2, per: 'example', regularizer_share: 0.15 },
  lora: { r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], rslora: false, layout: 'shared' },
  optimizer: { lr: 2e-4, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0 },
  schedule: { kind: 'cosine', warmup_steps: 10 },
  batch_size: 4,
  grad_accum: 1,
  max_length: 256,
  overlong: 'truncate',
  packing: false,
  train_on_prompts: false,
  steps: 200,
  clip: 1,
  nonfinite: 'skip',
  recompute: false,
  eval_every: 50,
  eval_examples: 32,
  eval_whole_split: false,
  eval_label_scoring: 'sum',
  eval_max_new_tokens: 32,
  checkpoint_every: 25,
  keep_checkpoints: 2,
  seed: 42,
};

const FINANCE_TASKS: RecipeTask[] = [
  {
    name: 'phrase_sentiment',
    source: { hub: 'takala/financial_phrasebank', config: 'sentences_50agree', split: 'train' },
    format: 'classification',
    columns: { text: 'sentence', label: 'label' },
    labels: { '0': 'negative', '1': 'neutral', '2': 'positive' },
    metric: 'accuracy',
    role: 'task',
    validation_fraction: 0.1,
  },
  {
    name: 'tweet_sentiment',
    source: { hub: 'zeroshot/twitter-financial-news-sentiment', config: 'default', split: 'train', validation_split: 'validation' },
    format: 'classification',
    columns: { text: 'text', label: 'label' },
    labels: { '0': 'bearish', '1': 'bullish', '2': 'neutral' },
    metric: 'accuracy',
    role: 'task',
    validation_fraction: 0.1,
  },
  {
    name: 'math_word_problems',
    source: { hub: 'openai/gsm8k', config: 'main', split: 'train', validation_split: 'test' },
    format: 'qa',
    columns: { question: 'question', answer: 'answer' },
    metric: 'numeric_match',
    role: 'regularizer',
    validation_fraction: 0.1,
    max_examples: 2000,
  },
  {
    name: 'general_instructions',
    source: { hub: 'tatsu-lab/alpaca', config: 'default', split: 'train' },
    format: 'instruction',
    columns: { instruction: 'instruction', input: 'input', output: 'output' },
    metric: 'rouge_l',
    role: 'regularizer',
    validation_fraction: 0.05,
    max_examples: 2000,
  },
];

export const FINANCE_COCKTAIL: Recipe = {
  ...DEFAULT_RECIPE,
  name: 'Finance cocktail',
  tasks: FINANCE_TASKS,
  mixture: { strategy: 'temperature', temperature: 2, per: 'example', regularizer_share: 0.2 },
};
