/**
 * What the user chooses about tokenization, with defaults filled in and checked once, before any
 * example. The resolved options are plain JSON, so the cache key can hash them as they are.
 */
import { TokenizeError } from './errors.ts';
import { isPlainTemplateName, PLAIN_TEMPLATE_NAMES, type PlainTemplateName } from './plain-templates.ts';

export type TemplateChoice =
  /** The model's own chat template (tokenizer_config.json or chat_template.jinja). */
  | { readonly kind: 'chat' }
  /** One of PLAIN_TEMPLATES. */
  | { readonly kind: 'plain'; readonly name: PlainTemplateName };

/**
 * Which end of a too-long example is cut. "auto" cuts conversations from the left (the start of the
 * prompt goes, the answer and its EOS stay: an answer without its end teaches the model not to stop)
 * and text and pre-tokenized rows from the right (the start of a document is what it is about).
 * A BOS in front survives a cut from the left.
 */
export type TruncationSide = 'auto' | 'left' | 'right';
export const TRUNCATION_SIDES: readonly TruncationSide[] = ['auto', 'left', 'right'];

export interface TokenizeOptions {
  readonly template: TemplateChoice;
  /** Loss on every turn (system and user too), not only on the turns marked train. Default false. */
  readonly trainOnPrompts?: boolean;
  /** EOS after each trained answer and after each text, unless the template already put one there. Default true. */
  readonly appendEos?: boolean;
  /** Most tokens per example; longer examples are truncated. Default null: no limit. */
  readonly maxLength?: number | null;
  /** Default "auto". */
  readonly truncationSide?: TruncationSide;
  /** An example longer than maxLength: "truncate" (default) cuts it on truncationSide, "drop" leaves it out. */
  readonly overlong?: Overlong;
}

export type Overlong = 'truncate' | 'drop';

export interface ResolvedTokenizeOptions {
  readonly template: TemplateChoice;
  readonly trainOnPrompts: boolean;
  readonly appendEos: boolean;
  readonly maxLength: number | null;
  readonly truncationSide: TruncationSide;
  readonly overlong: Overlong;
}

/** The shortest useful limit: labels[0] never carries loss, so one token can teach nothing. */
export const MIN_MAX_LENGTH = 2;

export function resolveTokenizeOptions(options: TokenizeOptions): ResolvedTokenizeOptions {
  const template = options.template as { kind?: unknown; name?: unknown } | undefined;
  let resolvedTemplate: TemplateChoice;
  if (template?.kind === 'chat') resolvedTemplate = { kind: 'chat' };
  else if (template?.kind === 'plain' && isPlainTemplateName(template.name)) resolvedTemplate = { kind: 'plain', name: template.name };
  else {
    throw new TokenizeError(
      'TOKENIZE_BAD_OPTIONS',
      `Unknown template ${JSON.stringify(options.template)}; choose {kind: "chat"} or {kind: "plain", name} with a name among ${PLAIN_TEMPLATE_NAMES.join(', ')}`,
      { field: 'template' },
    );
  }
  const maxLength = options.maxLength ?? null;
  if (maxLength !== null && (!Number.isSafeInteger(maxLength) || maxLength < MIN_MAX_LENGTH)) {
    throw new TokenizeError('TOKENIZE_BAD_OPTIONS', `maxLength must be a whole number of tokens, at least ${MIN_MAX_LENGTH}; got ${maxLength}`, { field: 'maxLength' });
  }
  const truncationSide = options.truncationSide ?? 'auto';
  if (!TRUNCATION_SIDES.includes(truncationSide)) {
    throw new TokenizeError('TOKENIZE_BAD_OPTIONS', `truncationSide must be one of ${TRUNCATION_SIDES.join(', ')}; got ${JSON.stringify(truncationSide)}`, { field: 'truncationSide' });
  }
  const overlong = options.overlong ?? 'truncate';
  if (overlong !== 'truncate' && overlong !== 'drop') {
    throw new TokenizeError('TOKENIZE_BAD_OPTIONS', `overlong must be "truncate" or "drop"; got ${JSON.stringify(overlong)}`, { field: 'overlong' });
  }
  return {
    template: resolvedTemplate,
    trainOnPrompts: options.trainOnPrompts ?? false,
    appendEos: options.appendEos ?? true,
    maxLength,
    truncationSide,
    overlong,
  };
}
