/**
 * An example as the text we train on, cut where the loss starts and stops: what every target's data
 * is written from, so the target trains on our text with our loss mask. Conversations are rendered with
 * the task's template exactly as app/data/tokenize renders them (the model's chat template, or a plain
 * template); EOS is written out where our tokenizer appends it, since the targets' "raw text" formats
 * add none themselves.
 */
import type { Example } from '../data/example.ts';
import { PLAIN_TEMPLATES, renderChatConversation, renderPlainConversation, type RenderedConversation, type TemplateChoice } from '../data/tokenize/index.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';

export interface Segment {
  text: string;
  /** Whether these characters carry loss. */
  train: boolean;
}

export type ExportRow =
  | { kind: 'segments'; segments: Segment[] }
  | { kind: 'text'; text: string }
  | { kind: 'tokens'; inputIds: number[]; labels: number[] };

export function exampleRow(example: Example, rendering: TemplateChoice, tokenizer: Pick<TextTokenizer, 'applyChatTemplate' | 'eosToken'>, trainOnPrompts: boolean, where: string): ExportRow {
  if (example.kind === 'text') return { kind: 'text', text: example.text };
  if (example.kind === 'tokens') return { kind: 'tokens', inputIds: [...example.inputIds], labels: [...example.labels] };
  const rendered: RenderedConversation =
    rendering.kind === 'chat' ? renderChatConversation(tokenizer, example.turns, trainOnPrompts, where) : renderPlainConversation(PLAIN_TEMPLATES[rendering.name], example.turns, trainOnPrompts);
  const segments: Segment[] = [];
  const push = (text: string, train: boolean) => {
    if (text === '') return;
    const last = segments.at(-1);
    if (last && last.train === train) last.text += text;
    else segments.push({ text, train });
  };
  let at = 0;
  for (const turn of rendered.turns) {
    if (turn.loss) {
      push(rendered.text.slice(at, turn.loss.start), false);
      push(rendered.text.slice(turn.loss.start, turn.loss.end), true);
      at = turn.loss.end;
    }
  }
  push(rendered.text.slice(at), false);
  // Plain templates end the answer with the tokenizer's EOS (app/data/tokenize); a chat template writes its own end marker.
  const last = segments.at(-1);
  if (rendering.kind === 'plain' && last?.train && tokenizer.eosToken) last.text += tokenizer.eosToken;
  return { kind: 'segments', segments };
}

/**
 * Text after the last trained span carries no loss and, in a causal model, changes no earlier
 * prediction: formats that must end on the answer can drop it without changing what is learned.
 */
export function withoutUntrainedTail(segments: readonly Segment[]): Segment[] {
  return segments.at(-1)?.train === false ? segments.slice(0, -1) : [...segments];
}

/** A conversation whose loss is one span at its end: what prompt/completion formats can say. */
export function asPromptCompletion(segments: readonly Segment[]): { prompt: string; completion: string } | undefined {
  const trimmed = withoutUntrainedTail(segments);
  if (trimmed.length === 2 && !trimmed[0]!.train && trimmed[1]!.train) return { prompt: trimmed[0]!.text, completion: trimmed[1]!.text };
  if (trimmed.length === 1 && trimmed[0]!.train) return { prompt: '', completion: trimmed[0]!.text };
  return undefined;
}
