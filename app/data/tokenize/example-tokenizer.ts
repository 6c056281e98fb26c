/**
 * One example to the arrays the trainer receives. Three cases, as example.ts promises:
 * - conversation: rendered with the chosen template (chat-template-spans.ts or plain-templates.ts),
 *   then encoded once with its loss spans (encode-rendered.ts);
 * - text: every token trained, EOS appended;
 * - tokens: checked against the vocabulary and passed through (labels[0] set to -100, which changes no loss).
 * Then truncation to maxLength (truncate.ts).
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { IGNORE_INDEX, type ConversationExample, type Example, type TextExample, type TokenExample } from '../example.ts';
import { describeLocation } from '../validate.ts';
import { renderChatConversation } from './chat-template-spans.ts';
import { encodeRenderedConversation, requireEos } from './encode-rendered.ts';
import { TokenizeError } from './errors.ts';
import { resolveTokenizeOptions, type ResolvedTokenizeOptions, type TokenizeOptions } from './options.ts';
import { PLAIN_TEMPLATE_NAMES, PLAIN_TEMPLATES, renderPlainConversation } from './plain-templates.ts';
import { tokenExampleProblem } from './tokens-check.ts';
import { leadingIdsFor, tokenizerFacts, type TokenizerFacts } from './tokenizer-facts.ts';
import { truncateSequence, type CutSide } from './truncate.ts';
import { NO_TURN, type EncodedSequence, type TokenizedExample } from './types.ts';

export interface ExampleTokenization {
  readonly example: TokenizedExample;
  readonly droppedTokens: number;
  readonly droppedTrainedTokens: number;
}

export interface ExampleTokenizer {
  readonly options: ResolvedTokenizeOptions;
  readonly facts: TokenizerFacts;
  tokenize(example: Example): ExampleTokenization;
}

/**
 * @param task names the task's file in messages ("train.jsonl, line 8 (row 7): ...").
 * Refuses options that make no sense, and the chat template for a model that has none, before any example.
 */
export function createExampleTokenizer(tokenizer: TextTokenizer, options: TokenizeOptions, task: string): ExampleTokenizer {
  const resolved = resolveTokenizeOptions(options);
  if (resolved.template.kind === 'chat' && !tokenizer.hasChatTemplate) {
    throw new TokenizeError(
      'TOKENIZE_NO_CHAT_TEMPLATE',
      `${task}: the model has no chat template; choose a plain template (${PLAIN_TEMPLATE_NAMES.join(', ')})`,
      { task },
    );
  }
  const facts = tokenizerFacts(tokenizer);
  const plain = resolved.template.kind === 'plain' ? PLAIN_TEMPLATES[resolved.template.name] : null;

  const encodeConversation = (example: ConversationExample, where: string): EncodedSequence => {
    const rendered = plain
      ? renderPlainConversation(plain, example.turns, resolved.trainOnPrompts)
      : renderChatConversation(tokenizer, example.turns, resolved.trainOnPrompts, where);
    const roles = example.turns.map((turn) => turn.role);
    return encodeRenderedConversation(tokenizer, facts, rendered, roles, resolved.appendEos, where);
  };

  const encodeText = (example: TextExample, where: string): EncodedSequence => {
    const ids = tokenizer.encode(example.text, { addSpecialTokens: false });
    const leading = leadingIdsFor(facts, ids);
    const last = ids[ids.length - 1];
    const eos = resolved.appendEos && (last === undefined || !facts.eosIds.has(last)) ? [requireEos(facts, where)] : [];
    const inputIds = Int32Array.from([...leading, ...ids, ...eos]);
    const labels = inputIds.slice();
    labels.fill(IGNORE_INDEX, 0, Math.max(1, leading.length));
    return { inputIds, labels, turnIndex: new Int32Array(inputIds.length).fill(NO_TURN) };
  };

  const passTokens = (example: TokenExample, where: string): EncodedSequence => {
    const problem = tokenExampleProblem(example, facts.vocabSize);
    if (problem) {
      throw new TokenizeError('TOKENIZE_BAD_TOKENS', `${where}, field "${problem.field}": ${problem.message}`, { row: example.source.row, field: problem.field });
    }
    const labels = example.labels.slice();
    labels[0] = IGNORE_INDEX;
    return { inputIds: example.inputIds.slice(), labels, turnIndex: new Int32Array(example.inputIds.length).fill(NO_TURN) };
  };

  return {
    options: resolved,
    facts,
    tokenize(example) {
      const where = describeLocation(task, example.source);
      let encoded: EncodedSequence;
      switch (example.kind) {
        case 'conversation':
          encoded = encodeConversation(example, where);
          break;
        case 'text':
          encoded = encodeText(example, where);
          break;
        case 'tokens':
          encoded = passTokens(example, where);
          break;
        default:
          throw new TokenizeError('TOKENIZE_BAD_OPTIONS', `${where}: unknown example kind ${JSON.stringify((example as { kind: unknown }).kind)}`);
      }
      const side: CutSide = resolved.truncationSide !== 'auto' ? resolved.truncationSide : example.kind === 'conversation' ? 'left' : 'right';
      const cut = resolved.maxLength === null ? { sequence: encoded, droppedTokens: 0, droppedTrainedTokens: 0 } : truncateSequence(encoded, resolved.maxLength, side, facts.bosId);
      const roles = example.kind === 'conversation' ? example.turns.map((turn) => turn.role) : [];
      return {
        example: { source: example.source, ...cut.sequence, roles, truncatedTokens: cut.droppedTokens },
        droppedTokens: cut.droppedTokens,
        droppedTrainedTokens: cut.droppedTrainedTokens,
      };
    },
  };
}
