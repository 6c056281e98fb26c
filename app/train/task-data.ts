/**
 * What the trainer needs of each task of a recipe, once its file has been imported, mapped,
 * validated, split and tokenized (app/train/prepare.ts builds it; the trainer and the evaluator read it).
 */
import type { TokenizedExample } from '../data/tokenize/types.ts';
import type { EvaluationSample, SplitCandidate } from './eval-sample.ts';
import type { RecipeTask } from './recipe.ts';

export interface ValidationPrompt {
  promptIds: Int32Array;
  expected: string;
  /** The text the model answers (the prompt's user turns), to show beside expected and got. */
  input?: string;
  /**
   * Classification: for each label word (in labelWords' order), the whole exchange with that word as
   * the answer, tokenized exactly as training tokenizes it, and the position from which its tokens
   * are scored (where it stops sharing tokens with the prompt).
   */
  candidates?: readonly { ids: Int32Array; scoreFrom: number }[];
}

export interface PreparedTask {
  name: string;
  role: 'task' | 'regularizer';
  metric: NonNullable<RecipeTask['metric']>;
  train: readonly TokenizedExample[];
  validation: readonly TokenizedExample[];
  /**
   * For evaluation by generation or label scoring: per validation example, the prompt's token ids
   * (what the model sees before it answers, generation prompt included) and the expected answer text.
   */
  validationPrompts: readonly ValidationPrompt[];
  /** Classification: every label word, as the model is taught to say it (for scoring the label words). */
  labelWords?: readonly string[];
  /**
   * Present when `validation` holds only the evaluation sample, drawn from the whole split before
   * tokenization (a run tokenizes no other validation example): the sample's facts about the split.
   */
  validationSample?: Omit<EvaluationSample, 'indices'>;
  /**
   * Present when tokenization dropped examples of the validation split (and `validation` holds the
   * whole split otherwise): the split before tokenization, which the evaluation sample is drawn from
   * so that it is the sample a run draws while tokenizing only what it evaluates (eval-sample.ts).
   */
  validationSplit?: readonly SplitCandidate[];
  /** Mean tokens per training example, for the mixture preview. */
  meanTokens: number;
}
