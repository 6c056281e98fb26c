/**
 * Where each turn lies in the text the model's chat template renders, found without knowing the
 * template: render the conversation's first i turns for every i. A template that renders turns one
 * after another (ChatML, Llama 3, Zephyr, ...) gives, for each i, a prefix of the full rendering, and
 * turn i is the text between the renderings of i and i + 1 turns. The answer of an assistant turn
 * starts where the rendering of the first i turns with the generation prompt ("<|im_start|>assistant\n")
 * stops agreeing with the full rendering, so the header the model is given at inference carries no
 * loss, while the answer and the template's end-of-turn marker ("<|im_end|>\n", "<|eot_id|>") do.
 *
 * A template that renders earlier turns differently once more follow (one that moves the system prompt
 * into the last user turn, or drops earlier reasoning) has no such prefixes; it is refused rather than
 * given a guessed loss span.
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';
import type { Turn } from '../example.ts';
import { TokenizeError } from './errors.ts';
import type { RenderedConversation, TurnSpan } from './rendered.ts';
import { commonPrefixLength } from './strings.ts';

export function renderChatConversation(
  tokenizer: Pick<TextTokenizer, 'applyChatTemplate'>,
  turns: readonly Turn[],
  trainOnPrompts: boolean,
  where: string,
): RenderedConversation {
  const messages = turns.map((turn) => ({ role: turn.role, content: turn.content }));
  const render = (count: number, addGenerationPrompt: boolean): string => {
    try {
      return tokenizer.applyChatTemplate(messages.slice(0, count), { addGenerationPrompt });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TokenizeError('TOKENIZE_TEMPLATE_FAILED', `${where}: the chat template failed on the first ${count} of ${turns.length} turn(s): ${reason}`, {
        turns: count,
        reason,
      });
    }
  };

  const text = render(turns.length, false);
  const ends: number[] = [];
  for (let count = 1; count < turns.length; count++) {
    const prefix = render(count, false);
    const previousEnd = ends[ends.length - 1] ?? 0;
    if (!text.startsWith(prefix) || prefix.length < previousEnd) {
      throw new TokenizeError(
        'TOKENIZE_TEMPLATE_UNSTABLE',
        `${where}: the chat template renders the first ${count} turn(s) differently when more turns follow, so the loss span of each turn cannot be found; choose a plain template for this task`,
        { turns: count },
      );
    }
    ends.push(prefix.length);
  }
  ends.push(text.length);

  const spans: TurnSpan[] = turns.map((turn, index) => {
    const start = index === 0 ? 0 : ends[index - 1]!;
    const end = ends[index]!;
    if (!trainOnPrompts && !turn.train) return { start, end, loss: null };
    const lossStart = !trainOnPrompts && turn.role === 'assistant' ? answerStart(index, start, end) : start;
    return { start, end, loss: { start: lossStart, end } };
  });
  return { text, turns: spans };

  /** Where the rendering with the generation prompt after `index` turns stops agreeing with the full one. */
  function answerStart(index: number, start: number, end: number): number {
    let withPrompt: string;
    if (index > 0) withPrompt = render(index, true);
    else {
      try {
        withPrompt = tokenizer.applyChatTemplate([], { addGenerationPrompt: true });
      } catch {
        // Many templates index messages[0] and cannot render no turns at all; for a conversation that
        // opens with the assistant, the whole first turn then carries loss, header included.
        return start;
      }
    }
    return Math.min(end, Math.max(start, commonPrefixLength(withPrompt, text)));
  }
}
