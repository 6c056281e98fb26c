/**
 * What the router reads of a prompt. By default the text a person types: a task example's input
 * fields without the task's template (the FPB sentence, the GSM8K question, the Alpaca instruction and
 * its input), so a prompt typed in the Playground routes like the task's own examples. With
 * 'template', the user turns as the task's template renders them. Either way the text is tokenized
 * as the model's tokenizer encodes any text (BOS added as Hugging Face does), without a chat template.
 */
import type { Example } from '../data/example.ts';
import { CocktailError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';

export type RouterInput = 'typed' | 'template';

/** The router's text of an example; undefined for one with no prompt (raw text, pre-tokenized rows). */
export function routerInputText(example: Example, input: RouterInput): string | undefined {
  if (example.kind !== 'conversation') return undefined;
  if (input === 'typed' && example.typed !== undefined) return example.typed;
  const asked = example.turns.filter((turn) => turn.role === 'user').map((turn) => turn.content);
  return asked.length > 0 ? asked.join('\n\n') : undefined;
}

export interface RouterPrompt {
  ids: number[];
  /** Set when the text was longer than the model's context: its token count before the cut. */
  truncatedFrom?: number;
}

/**
 * Token ids of a router text, cut to the model's context (its first max_position_embeddings tokens:
 * the opening of a prompt says most about its kind) with the original length kept for a notice.
 */
export function routerPromptIds(tokenizer: TextTokenizer, text: string, config: Pick<ModelConfig, 'maxPositionEmbeddings'>): RouterPrompt {
  const ids = tokenizer.encode(text);
  if (ids.length === 0) throw new CocktailError('ROUTER_EMPTY_PROMPT', 'the prompt has no tokens to route by', {});
  const limit = config.maxPositionEmbeddings;
  return ids.length > limit ? { ids: ids.slice(0, limit), truncatedFrom: ids.length } : { ids };
}

/** The notice a truncated prompt gets, in the words the CLI and the studio show. */
export function truncationNotice(prompt: RouterPrompt, config: Pick<ModelConfig, 'maxPositionEmbeddings'>): string | undefined {
  if (prompt.truncatedFrom === undefined) return undefined;
  return `the prompt has ${prompt.truncatedFrom} tokens, more than the model's context of ${config.maxPositionEmbeddings}: the router read its first ${config.maxPositionEmbeddings}`;
}
