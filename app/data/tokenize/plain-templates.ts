/**
 * Plain templates: fixed text around each turn, for models without a chat template (base models, the
 * aidreams260K fixture) or when a user prefers a classic prompt format. A turn renders as its role's
 * prefix followed by its content; consecutive turns are joined by the separator. The answer carries
 * loss, the prefixes do not, and EOS is appended as a token after each trained answer (never as text,
 * so it cannot be split into pieces by the tokenizer).
 *
 * | name                 | one exchange renders as                                  |
 * | -------------------- | -------------------------------------------------------- |
 * | instruction-response | "### Instruction:\n{prompt}\n\n### Response:\n{answer}"  |
 * | alpaca               | Alpaca's preamble + "\n\n" + the same as above           |
 * | question-answer      | "Question: {prompt}\nAnswer: {answer}"                   |
 * | user-assistant       | "User: {prompt}\nAssistant: {answer}"                    |
 * | bare                 | "{prompt}\n{answer}"                                     |
 *
 * A system turn renders as its content with no prefix (or "System: " in user-assistant).
 */
import type { Role, Turn } from '../example.ts';
import type { RenderedConversation, TurnSpan } from './rendered.ts';

export const PLAIN_TEMPLATE_NAMES = ['instruction-response', 'alpaca', 'question-answer', 'user-assistant', 'bare'] as const;
export type PlainTemplateName = (typeof PLAIN_TEMPLATE_NAMES)[number];

export interface PlainTemplate {
  readonly name: PlainTemplateName;
  readonly description: string;
  /** Text before each turn's content, by role. */
  readonly prefix: Readonly<Record<Role, string>>;
  /** Text between consecutive turns. */
  readonly separator: string;
  /** Put before the first turn when the conversation has no system turn of its own. */
  readonly defaultSystem?: string;
}

const INSTRUCTION_PREFIX: Readonly<Record<Role, string>> = { system: '', user: '### Instruction:\n', assistant: '### Response:\n' };

export const PLAIN_TEMPLATES: Readonly<Record<PlainTemplateName, PlainTemplate>> = {
  'instruction-response': {
    name: 'instruction-response',
    description: '"### Instruction:" and "### Response:" headers, blank lines between turns',
    prefix: INSTRUCTION_PREFIX,
    separator: '\n\n',
  },
  alpaca: {
    name: 'alpaca',
    description: 'Stanford Alpaca: its preamble (when the row has no system prompt), then Instruction/Response headers',
    prefix: INSTRUCTION_PREFIX,
    separator: '\n\n',
    defaultSystem: 'Below is an instruction that describes a task. Write a response that appropriately completes the request.',
  },
  'question-answer': {
    name: 'question-answer',
    description: '"Question: ..." and "Answer: ..." lines',
    prefix: { system: '', user: 'Question: ', assistant: 'Answer: ' },
    separator: '\n',
  },
  'user-assistant': {
    name: 'user-assistant',
    description: '"User: ..." and "Assistant: ..." lines',
    prefix: { system: 'System: ', user: 'User: ', assistant: 'Assistant: ' },
    separator: '\n',
  },
  bare: {
    name: 'bare',
    description: 'the prompt and the answer on separate lines, nothing else (completion style for base models)',
    prefix: { system: '', user: '', assistant: '' },
    separator: '\n',
  },
};

export function isPlainTemplateName(name: unknown): name is PlainTemplateName {
  return typeof name === 'string' && (PLAIN_TEMPLATE_NAMES as readonly string[]).includes(name);
}

/**
 * The conversation as text with the character spans of its turns and of what carries loss. A turn's
 * span starts at the separator before it (the first turn's at 0, so the template's own preamble counts
 * as part of it). Loss: the answer's content, or with trainOnPrompts the whole of every turn.
 */
export function renderPlainConversation(template: PlainTemplate, turns: readonly Turn[], trainOnPrompts: boolean): RenderedConversation {
  let text = template.defaultSystem !== undefined && turns[0]?.role !== 'system' ? template.defaultSystem + template.separator : '';
  const spans: TurnSpan[] = [];
  turns.forEach((turn, index) => {
    const start = index === 0 ? 0 : text.length;
    if (index > 0) text += template.separator;
    text += template.prefix[turn.role];
    const contentStart = text.length;
    text += turn.content;
    const trained = trainOnPrompts || turn.train;
    spans.push({
      start,
      end: text.length,
      loss: trained ? { start: trainOnPrompts ? start : contentStart, end: text.length } : null,
    });
  });
  return { text, turns: spans };
}

/** What a model trained with this template is given at generation time: the turns, then the answer's prefix. */
export function plainGenerationPrompt(template: PlainTemplate, turns: readonly Pick<Turn, 'role' | 'content'>[]): string {
  const rendered = renderPlainConversation(
    template,
    turns.map((turn) => ({ ...turn, train: false })),
    false,
  ).text;
  return `${rendered}${turns.length > 0 ? template.separator : ''}${template.prefix.assistant}`;
}
