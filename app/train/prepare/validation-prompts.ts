/**
 * What evaluation by generation (or by scoring label words) gives the model for each validation
 * example: the conversation up to its last assistant turn, rendered with the generation prompt
 * (plainGenerationPrompt, or the chat template with add_generation_prompt), and the answer it should
 * give: the label word, the extracted final answer, or the assistant's text.
 *
 * The prompt's ids are the ids training saw. Encoding the prompt text on its own can end differently
 * from the same text followed by its answer: "Answer: " alone ends in a lone "▁" where training had
 * "▁7" holding the space and the answer's first digit. So the ids are the tokens the prompt and the
 * whole exchange share, and a token merged across the start of the answer is left for the model to
 * generate, as it learned to. The tokenizer's leading ids (BOS) go first, as in training.
 *
 * Training keeps the start of every example (prepare.ts cuts the end of the answer), so a kept
 * example's prompt fits; a label word's candidate that still runs past max_length is cut from the left
 * (a BOS in front stays), keeping the scored word within the length the model was trained on.
 */
import { describeLocation, type ConversationExample, type Example, type Turn } from '../../data/index.ts';
import { PLAIN_TEMPLATES, plainGenerationPrompt, renderPlainConversation, TokenizeError, type TemplateChoice, type TokenizedExample } from '../../data/tokenize/index.ts';
import { leadingIdsFor, tokenizerFacts } from '../../data/tokenize/tokenizer-facts.ts';
import type { TextTokenizer } from '../../model/tokenizer.ts';
import type { PreparedTask } from '../task-data.ts';

export type ValidationPrompt = PreparedTask['validationPrompts'][number];

export interface PromptOptions {
  readonly template: TemplateChoice;
  readonly maxLength: number | null;
  /** Names the task and file in messages. */
  readonly label: string;
  /** Classification: the label words, so each prompt carries every word as a scored candidate. */
  readonly labelWords?: readonly string[];
}

/**
 * One prompt per tokenized validation example, in the same order: examples that tokenization dropped
 * (nothing left to learn after truncation) have no prompt either, so index i of both always agree.
 */
export function validationPrompts(
  tokenized: readonly TokenizedExample[],
  examples: readonly Example[],
  tokenizer: TextTokenizer,
  options: PromptOptions,
): ValidationPrompt[] {
  const byRow = new Map(examples.map((example) => [example.source.row, example]));
  const prompt = createPromptBuilder(tokenizer, options);
  return tokenized.map((item) => {
    const example = byRow.get(item.source.row);
    // Only conversation formats ask for prompts (metric.ts), and tokenization keeps each example's row.
    if (example?.kind !== 'conversation') throw new Error(`${describeLocation(options.label, item.source)}: no conversation example for this validation example`);
    return prompt(example);
  });
}

function createPromptBuilder(tokenizer: TextTokenizer, options: PromptOptions): (example: ConversationExample) => ValidationPrompt {
  const facts = tokenizerFacts(tokenizer);
  const plain = options.template.kind === 'plain' ? PLAIN_TEMPLATES[options.template.name] : null;
  const longest = options.maxLength === null ? Number.POSITIVE_INFINITY : options.maxLength - 1;

  return (example) => {
    const where = describeLocation(options.label, example.source);
    const answerIndex = lastAssistantTurn(example.turns);
    const promptTurns = example.turns.slice(0, answerIndex);
    const answer = example.turns[answerIndex]!;
    const exchange = [...promptTurns, answer];
    const promptText = plain ? plainGenerationPrompt(plain, promptTurns) : renderChat(tokenizer, promptTurns, true, where);
    const fullText = plain ? renderPlainConversation(plain, exchange, false).text : renderChat(tokenizer, exchange, false, where);
    const promptIds = tokenizer.encode(promptText, { addSpecialTokens: false });
    const fullIds = tokenizer.encode(fullText, { addSpecialTokens: false });
    const shared = fullIds.slice(0, commonPrefixLength(promptIds, fullIds));
    const ids = [...leadingIdsFor(facts, fullIds), ...shared];
    const candidates = options.labelWords?.map((word) => {
      // The exchange with this word as the answer, encoded as training encodes it.
      const withWord = [...promptTurns, { ...answer, content: word }];
      const wordIds = tokenizer.encode(plain ? renderPlainConversation(plain, withWord, false).text : renderChat(tokenizer, withWord, false, where), { addSpecialTokens: false });
      const leading = leadingIdsFor(facts, wordIds);
      const all = [...leading, ...wordIds];
      const kept = cutFromLeft(all, options.maxLength ?? Number.POSITIVE_INFINITY, facts.bosId);
      const scoreFrom = leading.length + commonPrefixLength(promptIds, wordIds) - (all.length - kept.length);
      return { ids: Int32Array.from(kept), scoreFrom: Math.max(1, scoreFrom) };
    });
    return {
      promptIds: Int32Array.from(cutFromLeft(ids, longest, facts.bosId)),
      expected: expectedAnswer(example, answer),
      input: promptTurns
        .filter((turn) => turn.role === 'user')
        .map((turn) => turn.content)
        .join('\n'),
      ...(candidates ? { candidates } : {}),
    };
  };
}

function lastAssistantTurn(turns: readonly Turn[]): number {
  for (let index = turns.length - 1; index >= 0; index--) if (turns[index]!.role === 'assistant') return index;
  // Every format gives a conversation an assistant turn (chat rows without one are NO_ASSISTANT_TURN).
  throw new Error('a validation example has no assistant turn');
}

function renderChat(tokenizer: TextTokenizer, turns: readonly Turn[], addGenerationPrompt: boolean, where: string): string {
  const messages = turns.map((turn) => ({ role: turn.role, content: turn.content }));
  try {
    return tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
  } catch (error) {
    // Many templates index messages[0] and cannot render no turns; a conversation that opens with
    // the assistant is then prompted with nothing but BOS, as training gave it.
    if (turns.length === 0) return '';
    const reason = error instanceof Error ? error.message : String(error);
    throw new TokenizeError('TOKENIZE_TEMPLATE_FAILED', `${where}: the chat template failed on the validation prompt: ${reason}`, { reason });
  }
}

function expectedAnswer(example: ConversationExample, answer: Turn): string {
  switch (example.expected?.kind) {
    case 'label':
      return example.expected.word;
    case 'answer':
      return example.expected.answer;
    default:
      return answer.content;
  }
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const limit = Math.min(a.length, b.length);
  let length = 0;
  while (length < limit && a[length] === b[length]) length++;
  return length;
}

function cutFromLeft(ids: readonly number[], longest: number, bosId: number | null): readonly number[] {
  if (ids.length <= longest) return ids;
  const keepBos = bosId !== null && ids[0] === bosId && longest > 1;
  return keepBos ? [ids[0]!, ...ids.slice(ids.length - (longest - 1))] : ids.slice(ids.length - longest);
}
