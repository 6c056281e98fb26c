/**
 * The normalized example: what every format maps a row to, and what the tokenization step turns into
 * token ids and a loss mask. There are only three shapes, so that step has three cases:
 *
 * - `conversation`: a list of turns {role, content, train}. Instruction, chat, prompt/completion,
 *   classification and question/answer rows all become this. `train` marks the turns whose tokens
 *   carry loss by default (the assistant's answers); "train on prompts" is the tokenizer's option to
 *   include the others too. The tokenizer renders the turns with the model's chat template (or a plain
 *   template), masks every token outside a `train: true` turn, and appends EOS as the model expects.
 * - `text`: raw text, every token trained (continued pre-training on a corpus).
 * - `tokens`: already tokenized by the user: input_ids and labels with -100 where there is no loss
 *   (Hugging Face convention, ENGINEERING.md §6; labels are aligned with input_ids, not shifted). The
 *   tokenizer passes them through unchanged.
 *
 * `source` keeps the row's number (and line) so a token view, an error or a duplicate can point back
 * to the file. `expected` carries what evaluation compares a generation with: the label word for
 * classification (the task's whole label set is in the mapping summary), the extracted answer for
 * question/answer.
 */
export type Role = 'system' | 'user' | 'assistant';

export const ROLES: readonly Role[] = ['system', 'user', 'assistant'];

export interface Turn {
  readonly role: Role;
  readonly content: string;
  /** Whether this turn's tokens carry loss by default. */
  readonly train: boolean;
}

export interface ExampleSource {
  /** 1-based row of the file (RawRow.row). */
  readonly row: number;
  /** 1-based line where the row starts, where the file has lines. */
  readonly line?: number;
}

export type Expected =
  /** Classification: the row's label as written in the file, and the word the model is taught to say. */
  | { readonly kind: 'label'; readonly label: string; readonly word: string }
  /** Question/answer: the final answer, as the extractor found it (GSM8K's "#### 72" gives "72"). */
  | { readonly kind: 'answer'; readonly answer: string };

export interface ConversationExample {
  readonly kind: 'conversation';
  readonly source: ExampleSource;
  readonly turns: readonly Turn[];
  readonly expected?: Expected;
  /**
   * What a person would type for this row: its input fields without the task's prompt template (the
   * classification's text, the question). Set where a template wraps them; elsewhere the user turns are
   * already what was typed. The router reads it (app/route/prompt.ts).
   */
  readonly typed?: string;
}

export interface TextExample {
  readonly kind: 'text';
  readonly source: ExampleSource;
  readonly text: string;
}

export interface TokenExample {
  readonly kind: 'tokens';
  readonly source: ExampleSource;
  readonly inputIds: Int32Array;
  /** Same length as inputIds; -100 where no loss is taken. */
  readonly labels: Int32Array;
}

export type Example = ConversationExample | TextExample | TokenExample;

/** The label ignored by the loss (PyTorch's CrossEntropyLoss ignore_index, used by Hugging Face). */
export const IGNORE_INDEX = -100;
