import { CocktailError } from '../../errors.ts';

export type TokenizeErrorCode =
  | 'TOKENIZE_BAD_OPTIONS' // a template name, length or packing choice that makes no sense (found before any example)
  | 'TOKENIZE_NO_CHAT_TEMPLATE' // the chat template was chosen for a model that has none
  | 'TOKENIZE_TEMPLATE_FAILED' // the chat template raised an error on a conversation
  | 'TOKENIZE_TEMPLATE_UNSTABLE' // rendering a conversation's first turns is not a prefix of rendering all of them
  | 'TOKENIZE_NO_EOS' // EOS must be appended but the tokenizer has no EOS token
  | 'TOKENIZE_BAD_TOKENS' // pre-tokenized rows with ids outside the vocabulary, mismatched lengths, bad labels
  | 'TOKENIZE_TOO_LONG' // packing was given an example longer than the sequence length
  | 'TOKENIZE_CACHE_CORRUPT'; // a cached item is damaged or from another format; the cache refuses it and tokenizes again

/**
 * A failure of tokenization. Messages name the task (file), the row and the field, and say what to
 * do; `details` carries the same facts for the UI.
 */
export class TokenizeError extends CocktailError {
  declare readonly code: TokenizeErrorCode;
  constructor(code: TokenizeErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}
