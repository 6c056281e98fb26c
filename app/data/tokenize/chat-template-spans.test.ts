import { describe, expect, it } from 'vitest';
import type { Turn } from '../example.ts';
import { renderChatConversation } from './chat-template-spans.ts';
import type { RenderedConversation } from './rendered.ts';
import { chatTokenizer, LLAMA3_TEMPLATE, QWEN25_TEMPLATE, SMOLLM2_TEMPLATE } from './test-support.ts';

const QA: Turn[] = [
  { role: 'user', content: 'What is 2+2?', train: false },
  { role: 'assistant', content: 'Four.', train: true },
];
const TWO_ROUNDS: Turn[] = [
  { role: 'system', content: 'You answer in words.', train: false },
  ...QA,
  { role: 'user', content: 'And 3+3?', train: false },
  { role: 'assistant', content: 'Six.', train: true },
];

const turnTexts = (rendered: RenderedConversation) => rendered.turns.map((turn) => rendered.text.slice(turn.start, turn.end));
const lossTexts = (rendered: RenderedConversation) => rendered.turns.map((turn) => (turn.loss ? rendered.text.slice(turn.loss.start, turn.loss.end) : null));

describe('loss spans found by rendering prefixes of the conversation', () => {
  it('SmolLM2 (ChatML): the answer and its <|im_end|> carry loss, the assistant header does not; the default system prompt joins the first turn', () => {
    const rendered = renderChatConversation(chatTokenizer(SMOLLM2_TEMPLATE), QA, false, 'test.jsonl, row 1');
    expect(turnTexts(rendered)).toEqual([
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n',
      '<|im_start|>assistant\nFour.<|im_end|>\n',
    ]);
    expect(lossTexts(rendered)).toEqual([null, 'Four.<|im_end|>\n']);
  });

  it('Qwen2.5: every assistant answer of a multi-turn conversation, and nothing else', () => {
    const rendered = renderChatConversation(chatTokenizer(QWEN25_TEMPLATE), TWO_ROUNDS, false, 'test.jsonl, row 1');
    expect(turnTexts(rendered)).toEqual([
      '<|im_start|>system\nYou answer in words.<|im_end|>\n',
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n',
      '<|im_start|>assistant\nFour.<|im_end|>\n',
      '<|im_start|>user\nAnd 3+3?<|im_end|>\n',
      '<|im_start|>assistant\nSix.<|im_end|>\n',
    ]);
    expect(lossTexts(rendered)).toEqual([null, null, 'Four.<|im_end|>\n', null, 'Six.<|im_end|>\n']);
  });

  it('Llama 3: the template’s BOS opens the first turn, contents are trimmed, and the answer ends with <|eot_id|>', () => {
    const turns: Turn[] = [QA[0]!, { role: 'assistant', content: '  Four.  ', train: true }];
    const rendered = renderChatConversation(chatTokenizer(LLAMA3_TEMPLATE), turns, false, 'test.jsonl, row 1');
    expect(turnTexts(rendered)).toEqual([
      '<s><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>',
      '<|start_header_id|>assistant<|end_header_id|>\n\nFour.<|eot_id|>',
    ]);
    expect(lossTexts(rendered)).toEqual([null, 'Four.<|eot_id|>']);
  });

  it('trains every turn whole when training on prompts', () => {
    const rendered = renderChatConversation(chatTokenizer(QWEN25_TEMPLATE), TWO_ROUNDS, true, 'test.jsonl, row 1');
    expect(lossTexts(rendered)).toEqual(turnTexts(rendered));
  });

  it('leaves an assistant turn that the mapping did not mark as trained without loss', () => {
    const turns = TWO_ROUNDS.map((turn, i) => (i === 2 ? { ...turn, train: false } : turn));
    expect(lossTexts(renderChatConversation(chatTokenizer(QWEN25_TEMPLATE), turns, false, 'x'))).toEqual([null, null, null, null, 'Six.<|im_end|>\n']);
  });

  it('finds the answer of a conversation that opens with the assistant by rendering no turns with the generation prompt', () => {
    const turns: Turn[] = [
      { role: 'assistant', content: 'Hello!', train: true },
      { role: 'user', content: 'Hi.', train: false },
    ];
    const rendered = renderChatConversation(chatTokenizer(QWEN25_TEMPLATE), turns, false, 'x');
    expect(lossTexts(rendered)).toEqual(['Hello!<|im_end|>\n', null]);
  });

  it('trains such a first turn whole, header included, when the template cannot render no turns', () => {
    const template = "{% if messages | length == 0 %}{{ raise_exception('no messages') }}{% endif %}{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
    const turns: Turn[] = [
      { role: 'assistant', content: 'Hello!', train: true },
      { role: 'user', content: 'Hi.', train: false },
    ];
    const rendered = renderChatConversation(chatTokenizer(template), turns, false, 'x');
    expect(turnTexts(rendered)).toEqual(['assistant: Hello!\n', 'user: Hi.\n']);
    expect(lossTexts(rendered)).toEqual(['assistant: Hello!\n', null]);
  });

  it('refuses a template that renders earlier turns differently once more follow, naming the row', () => {
    // Marks only the last message, as templates that drop earlier reasoning or move the system prompt do.
    const template = "{% for message in messages %}{% if loop.last %}[LAST]{% endif %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}";
    expect(() => renderChatConversation(chatTokenizer(template), QA, false, 'chats.jsonl, line 4 (row 3)')).toThrow(
      expect.objectContaining({ code: 'TOKENIZE_TEMPLATE_UNSTABLE', message: expect.stringMatching(/^chats\.jsonl, line 4 \(row 3\): the chat template renders the first 1 turn/) }),
    );
  });

  it('reports a template that raises an error, with the row and the template’s reason', () => {
    const template = "{% for message in messages %}{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ message['content'] }}{% endfor %}";
    expect(() => renderChatConversation(chatTokenizer(template), TWO_ROUNDS, false, 'chats.jsonl, row 9')).toThrow(
      expect.objectContaining({ code: 'TOKENIZE_TEMPLATE_FAILED', message: expect.stringContaining('chats.jsonl, row 9: the chat template failed') }),
    );
  });
});
