/**
 * The text of a mapped example as the audit compares it. A row's "mapped text" is its prompt (the
 * turns that carry no loss, system prompt excluded, since it is the same for every row) and its answer
 * (the turns that carry loss); plain text is all answer; pre-tokenized rows are their token ids.
 *
 * - exact key: prompt and answer with whitespace trimmed at both ends of every line (a template puts
 *   the row's text on a line of its own, so a stray trailing space in the file does not hide a copy);
 * - near key: the same text lower-cased, Unicode-normalized (NFKC), with every run of characters that
 *   are not letters or digits turned into one space: "Sales rose 5% ." and "sales rose 5 %" meet;
 * - input key: the near key of the prompt alone (of the text for plain text), for comparing across
 *   tasks and against validation rows, where the answers may be worded differently per task.
 */
import type { Example } from '../data/example.ts';

export interface ExampleText {
  prompt: string;
  answer: string;
}

export function exampleText(example: Example): ExampleText {
  switch (example.kind) {
    case 'text':
      return { prompt: '', answer: example.text };
    case 'tokens':
      return { prompt: '', answer: Array.from(example.inputIds).join(' ') };
    case 'conversation': {
      const untrained = example.turns.filter((turn) => !turn.train && turn.role !== 'system');
      const trained = example.turns.filter((turn) => turn.train);
      return { prompt: untrained.map((turn) => turn.content).join('\n'), answer: trained.map((turn) => turn.content).join('\n') };
    }
  }
}

export function exactKey(text: ExampleText): string {
  return `${trimLines(text.prompt)}\u0000${trimLines(text.answer)}`;
}

function trimLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .trim();
}

export function normalizeNear(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

export function nearKey(text: ExampleText): string {
  return `${normalizeNear(text.prompt)}\u0000${normalizeNear(text.answer)}`;
}

/** What the model reads: the prompt, or the text itself where there is no prompt. Empty inputs compare with nothing. */
export function inputKey(text: ExampleText): string {
  return normalizeNear(text.prompt === '' ? text.answer : text.prompt);
}

/** A short quotation of a row for a finding's examples. */
export function snippet(text: ExampleText, max = 120): string {
  const whole = text.prompt === '' ? text.answer : `${text.prompt} → ${text.answer}`;
  const flat = whole.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
