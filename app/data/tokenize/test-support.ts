/**
 * For the tests of this folder (Node only): the real aidreams260K tokenizer, the same tokenizer with
 * real-world chat templates, and examples made from real rows of ../shared/fixtures/datasets through
 * the importers and formats, as the studio makes them.
 */
import { readFileSync } from 'node:fs';
import { fixturePath as modelFixturePath } from '../../../test/fixtures.ts';
import { filesFromDirectory } from '../../model/node-source.ts';
import { createTokenizer, loadTokenizer, type TextTokenizer } from '../../model/tokenizer.ts';
import type { Example } from '../example.ts';
import { mapRows, type FormatMapping } from '../formats/mapping.ts';
import { GSM8K_EXTRACTOR } from '../formats/question-answer.ts';
import { importFile, type ImportFileOptions } from '../import/import-file.ts';
import { FIXTURES, fixtureFile } from '../test-support/fixtures.ts';
import { applyBadRowPolicy } from '../validate.ts';

export const MODEL_DIR = 'models/aidreams260K';

export async function fixtureTokenizer(): Promise<TextTokenizer> {
  return loadTokenizer(await filesFromDirectory(modelFixturePath(MODEL_DIR)));
}

export function fixtureTokenizerJson(): Record<string, unknown> & { added_tokens: Record<string, unknown>[] } {
  return JSON.parse(readFileSync(`${modelFixturePath(MODEL_DIR)}/tokenizer.json`, 'utf8'));
}

/**
 * The fixture's vocabulary with a chat template. With `specialTokens`, the template's markers are added
 * to the vocabulary as special tokens (ids 512, 513, ...) as a real chat model has them; the first
 * becomes BOS and the second EOS when the names say so.
 */
export function chatTokenizer(chatTemplate: string, options: { specialTokens?: readonly string[]; bos?: string; eos?: string } = {}): TextTokenizer {
  const json = fixtureTokenizerJson();
  (options.specialTokens ?? []).forEach((content, i) => {
    json.added_tokens.push({ id: 512 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  });
  return createTokenizer(json, { bos_token: options.bos ?? '<s>', eos_token: options.eos ?? '</s>', unk_token: '<unk>', chat_template: chatTemplate });
}

/** SmolLM2-135M-Instruct's chat template (ChatML with a default system prompt), as in its tokenizer_config.json. */
export const SMOLLM2_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** Qwen2.5-Instruct's chat template (ChatML with tools), as in its tokenizer_config.json. */
export const QWEN25_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

/** Meta-Llama-3-8B-Instruct's chat template: BOS written by the template, contents trimmed, <|eot_id|> after each turn. */
export const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/**
 * Where each token of the fixture tokenizer's encoding of an ASCII text without special tokens starts
 * and ends, in characters of the text: its normalizer prepends "▁" and writes spaces as "▁" (one
 * character each), and a byte fallback piece such as <0x2B> stands for one character.
 */
export function tokenSpans(tokenizer: TextTokenizer, ids: readonly number[]): { start: number; end: number }[] {
  let offset = -1; // the prepended "▁" is not in the text
  return ids.map((id) => {
    const piece = tokenizer.idToToken(id)!;
    const length = /^<0x[0-9A-F]{2}>$/.test(piece) ? 1 : piece.length;
    const span = { start: offset, end: offset + length };
    offset += length;
    return span;
  });
}

/** The ids that carry loss, in order. */
export function trainedIds(example: { inputIds: Int32Array; labels: Int32Array }): number[] {
  return Array.from(example.inputIds).filter((_, t) => example.labels[t] !== -100);
}

async function examplesOf(file: string, mapping: FormatMapping, importOptions: ImportFileOptions = {}): Promise<Example[]> {
  const imported = await importFile(fixtureFile(file), importOptions);
  const { examples } = mapRows(imported.rows, mapping, { log: imported.problems, columns: imported.info.columns });
  return applyBadRowPolicy(examples, imported.problems, 'refuse').examples;
}

/** GSM8K train rows as question/answer conversations (the whole worked answer trained). */
export const gsm8kExamples = (): Promise<Example[]> => examplesOf(FIXTURES.gsm8kTrain, { format: 'question-answer', extractor: GSM8K_EXTRACTOR });

/** Alpaca rows as instruction conversations. */
export const alpacaExamples = (): Promise<Example[]> => examplesOf(FIXTURES.alpaca, { format: 'instruction' });

/** Financial PhraseBank rows as classification conversations with the label word as answer. */
export const fpbExamples = (): Promise<Example[]> =>
  examplesOf(FIXTURES.fpb, { format: 'classification', labels: ['negative', 'neutral', 'positive'], template: 'Sentiment of: {text}' }, { delimiter: '@', columnNames: ['sentence', 'label'] });

/** Twitter financial news rows as plain text (continued pre-training). */
export const tweetTextExamples = (): Promise<Example[]> => examplesOf(FIXTURES.twitterTrain, { format: 'text' });
