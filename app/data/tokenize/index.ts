/**
 * Tokenization and loss masks: normalized examples to the arrays the trainer receives, truncation,
 * packing, per-task statistics, the token view, and the cache. See README.md in this folder.
 */
export { TokenizeError, type TokenizeErrorCode } from './errors.ts';
export { NO_TURN, type EncodedSequence, type TokenizedExample } from './types.ts';
export { MIN_MAX_LENGTH, resolveTokenizeOptions, TRUNCATION_SIDES, type ResolvedTokenizeOptions, type TemplateChoice, type TokenizeOptions, type TruncationSide } from './options.ts';
export {
  isPlainTemplateName,
  PLAIN_TEMPLATE_NAMES,
  PLAIN_TEMPLATES,
  plainGenerationPrompt,
  renderPlainConversation,
  type PlainTemplate,
  type PlainTemplateName,
} from './plain-templates.ts';
export type { CharSpan, RenderedConversation, TurnSpan } from './rendered.ts';
export { renderChatConversation } from './chat-template-spans.ts';
export { createExampleTokenizer, type ExampleTokenization, type ExampleTokenizer } from './example-tokenizer.ts';
export { formatTokenizeReport, MAX_LISTED_ROWS, tokenizeTask, type TokenizedTask, type TokenizeReport, type TokenizeTaskContext } from './tokenize-task.ts';
export { trainedCount, truncateSequence, type CutSide, type TruncatedSequence } from './truncate.ts';
export { packExamples, PACKING_STRATEGIES, type PackableExample, type PackedMember, type PackedSequence, type PackingStrategy } from './pack.ts';
export { packingStatistics, taskStatistics, type PackingStatistics, type TaskTokenStatistics } from './statistics.ts';
export { tokenView, type TokenViewEntry } from './token-view.ts';
export { displayToken, tokenDisplayStyle, type TokenDisplayStyle } from './token-display.ts';
export { canonicalJson, contentHash, sha256Hex } from './hash.ts';
export { TOKENIZER_IDENTITY_FILES, tokenizerIdentity } from './tokenizer-identity.ts';
export { BINARY_FORMAT_VERSION, decodeTokenizedExamples, encodeTokenizedExamples } from './binary-format.ts';
export {
  loadOrTokenizeTask,
  TOKENIZATION_VERSION,
  TOKENIZED_KEY_PREFIX,
  tokenizationCacheKey,
  type CachedTokenizedTask,
  type CacheOutcome,
  type LoadOrTokenizeRequest,
  type TokenizationCacheKey,
} from './cache.ts';
