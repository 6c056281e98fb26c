/**
 * The model's tokenizer, from tokenizer.json + tokenizer_config.json through @huggingface/tokenizers
 * (which applies the normalizer, model, post-processor and decoder as Hugging Face does, BOS
 * included), and its chat template through @huggingface/jinja.
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { CocktailError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import { missingFile, readJsonFile, type ModelFiles } from './source.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** Every id that ends generation: generation_config, config and tokenizer_config together. */
  readonly eosIds: readonly number[];
  readonly eosToken: string | null;
  readonly hasChatTemplate: boolean;
  /** Ids of `text`; with special tokens (the default), BOS and the like are added as HF's encode() does. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** The token's string in the vocabulary (for the token view), e.g. "▁the" or "<0x0A>". */
  idToToken(id: number): string | undefined;
  isSpecial(id: number): boolean;
  /** Renders the model's chat template (as transformers' apply_chat_template with tokenize=False). */
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}

interface TokenizerConfigJson {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  chat_template?: string | { name: string; template: string }[];
}

export async function loadTokenizer(files: ModelFiles, config?: ModelConfig): Promise<TextTokenizer> {
  if (!files.has('tokenizer.json')) throw missingFile(files, 'tokenizer.json', 'the studio needs the fast-tokenizer file that Hugging Face repositories ship');
  const tokenizerJson = (await readJsonFile(files, 'tokenizer.json')) as Record<string, unknown>;
  const tokenizerConfig = files.has('tokenizer_config.json') ? ((await readJsonFile(files, 'tokenizer_config.json')) as TokenizerConfigJson) : {};
  const generationConfig = files.has('generation_config.json') ? ((await readJsonFile(files, 'generation_config.json')) as { eos_token_id?: unknown; bos_token_id?: unknown }) : {};
  const templateFile = files.has('chat_template.jinja') ? await (await files.open('chat_template.jinja')).text() : undefined;
  return createTokenizer(tokenizerJson, tokenizerConfig, { generationConfig, config, templateFile, label: files.label });
}

export function createTokenizer(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: TokenizerConfigJson,
  extra: { generationConfig?: { eos_token_id?: unknown; bos_token_id?: unknown }; config?: ModelConfig; templateFile?: string; label?: string } = {},
): TextTokenizer {
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (error) {
    throw new CocktailError('TOKENIZER_INVALID', `${extra.label ?? 'model'}: tokenizer.json could not be loaded (${(error as Error).message})`, { file: 'tokenizer.json' });
  }
  const tokenText = (value: TokenizerConfigJson['bos_token']): string | null => (value == null ? null : typeof value === 'string' ? value : value.content);
  const idOf = (token: string | null): number | null => (token === null ? null : (tokenizer.token_to_id(token) ?? null));
  const bosToken = tokenText(tokenizerConfig.bos_token);
  const eosToken = tokenText(tokenizerConfig.eos_token);
  const eosIds = new Set<number>([...ids(extra.generationConfig?.eos_token_id), ...(extra.config?.eosTokenIds ?? [])]);
  const eosFromTokenizer = idOf(eosToken);
  if (eosFromTokenizer !== null) eosIds.add(eosFromTokenizer);
  const special = new Set(tokenizer.get_added_tokens_decoder().keys());
  const template = chatTemplateSource(tokenizerConfig, extra.templateFile);
  const compiled = template === undefined ? undefined : new Template(template);
  const vocabSize = tokenizer.get_vocab(true).size;

  return {
    vocabSize,
    bosId: idOf(bosToken) ?? extra.config?.bosTokenId ?? null,
    eosIds: [...eosIds],
    eosToken,
    hasChatTemplate: compiled !== undefined,
    encode: (text, options = {}) => tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids,
    decode: (idList, options = {}) => tokenizer.decode([...idList], { skip_special_tokens: options.skipSpecialTokens ?? false }),
    idToToken: (id) => tokenizer.id_to_token(id),
    isSpecial: (id) => special.has(id),
    applyChatTemplate(messages, options = {}) {
      if (!compiled) {
        throw new CocktailError('NO_CHAT_TEMPLATE', `${extra.label ?? 'This model'} has no chat template; use a plain template for this task`, {});
      }
      return compiled.render({
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
        bos_token: bosToken ?? '',
        eos_token: eosToken ?? '',
        pad_token: tokenText(tokenizerConfig.pad_token) ?? '',
        unk_token: tokenText(tokenizerConfig.unk_token) ?? '',
      });
    },
  };
}

/** tokenizer_config's chat_template (a string, or named templates of which "default" is used) or chat_template.jinja. */
function chatTemplateSource(config: TokenizerConfigJson, templateFile: string | undefined): string | undefined {
  const template = config.chat_template;
  if (typeof template === 'string') return template;
  if (Array.isArray(template)) return (template.find((t) => t.name === 'default') ?? template[0])?.template;
  return templateFile;
}

function ids(value: unknown): number[] {
  if (Number.isSafeInteger(value)) return [value as number];
  if (Array.isArray(value)) return value.filter((id): id is number => Number.isSafeInteger(id));
  return [];
}
