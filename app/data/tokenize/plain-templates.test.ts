import { describe, expect, it } from 'vitest';
import type { Turn } from '../example.ts';
import { PLAIN_TEMPLATE_NAMES, PLAIN_TEMPLATES, plainGenerationPrompt, renderPlainConversation } from './plain-templates.ts';
import type { RenderedConversation } from './rendered.ts';

const QA: Turn[] = [
  { role: 'user', content: 'What is 2+2?', train: false },
  { role: 'assistant', content: 'Four.', train: true },
];

const lossText = (rendered: RenderedConversation) => rendered.turns.map((turn) => (turn.loss ? rendered.text.slice(turn.loss.start, turn.loss.end) : null));

describe('plain templates', () => {
  it('renders the instruction-response template as "### Instruction:\\n{prompt}\\n\\n### Response:\\n{answer}"', () => {
    const rendered = renderPlainConversation(PLAIN_TEMPLATES['instruction-response'], QA, false);
    expect(rendered.text).toBe('### Instruction:\nWhat is 2+2?\n\n### Response:\nFour.');
    expect(lossText(rendered)).toEqual([null, 'Four.']);
  });

  it('puts Alpaca’s preamble first only when the row brings no system prompt of its own', () => {
    const alpaca = PLAIN_TEMPLATES.alpaca;
    expect(renderPlainConversation(alpaca, QA, false).text).toBe(
      'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nWhat is 2+2?\n\n### Response:\nFour.',
    );
    const withSystem = renderPlainConversation(alpaca, [{ role: 'system', content: 'Be brief.', train: false }, ...QA], false);
    expect(withSystem.text).toBe('Be brief.\n\n### Instruction:\nWhat is 2+2?\n\n### Response:\nFour.');
  });

  it('renders each documented template as its table row says', () => {
    const texts = Object.fromEntries(PLAIN_TEMPLATE_NAMES.map((name) => [name, renderPlainConversation(PLAIN_TEMPLATES[name], QA, false).text]));
    expect(texts).toEqual({
      'instruction-response': '### Instruction:\nWhat is 2+2?\n\n### Response:\nFour.',
      alpaca: `${PLAIN_TEMPLATES.alpaca.defaultSystem}\n\n### Instruction:\nWhat is 2+2?\n\n### Response:\nFour.`,
      'question-answer': 'Question: What is 2+2?\nAnswer: Four.',
      'user-assistant': 'User: What is 2+2?\nAssistant: Four.',
      bare: 'What is 2+2?\nFour.',
    });
  });

  it('covers the whole text with turn spans, the preamble in the first turn and each separator in the turn after it', () => {
    const turns: Turn[] = [...QA, { role: 'user', content: 'And 3+3?', train: false }, { role: 'assistant', content: 'Six.', train: true }];
    const rendered = renderPlainConversation(PLAIN_TEMPLATES.alpaca, turns, false);
    expect(rendered.turns[0]!.start).toBe(0);
    rendered.turns.forEach((turn, i) => expect(turn.start).toBe(i === 0 ? 0 : rendered.turns[i - 1]!.end));
    expect(rendered.turns.at(-1)!.end).toBe(rendered.text.length);
    expect(rendered.text.slice(rendered.turns[2]!.start, rendered.turns[2]!.end)).toBe('\n\n### Instruction:\nAnd 3+3?');
    expect(lossText(rendered)).toEqual([null, 'Four.', null, 'Six.']);
  });

  it('trains whole turns, prefixes and separators included, when training on prompts', () => {
    const rendered = renderPlainConversation(PLAIN_TEMPLATES['question-answer'], QA, true);
    expect(lossText(rendered)).toEqual(['Question: What is 2+2?', '\nAnswer: Four.']);
  });

  it('gives at generation time exactly the text that precedes the trained answer', () => {
    for (const name of PLAIN_TEMPLATE_NAMES) {
      const template = PLAIN_TEMPLATES[name];
      const rendered = renderPlainConversation(template, QA, false);
      expect(plainGenerationPrompt(template, QA.slice(0, 1))).toBe(rendered.text.slice(0, rendered.turns[1]!.loss!.start));
    }
  });
});
