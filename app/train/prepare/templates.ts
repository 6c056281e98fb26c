/**
 * A recipe task's `template`, which says one of three things:
 *  - "chat": render with the model's chat template;
 *  - a plain template's name ("question-answer", "alpaca", ... from app/data/tokenize): render with it;
 *  - a template with {placeholders} ("Sentiment of: {text}"): the user turn of a classification or qa
 *    task, rendered with the default below.
 *
 * Default rendering: the model's chat template when it has one, since that is the format an instruct
 * model was tuned on and will be prompted with. A base model (the aidreams260K fixture has no chat
 * template) gets the plain template that suits the format:
 *
 * | format            | plain template       | why                                                         |
 * | ----------------- | -------------------- | ----------------------------------------------------------- |
 * | instruction       | instruction-response | Alpaca's headers without its preamble, which costs ~60 tokens a row |
 * | messages          | user-assistant       | the one plain template that marks system, user and assistant turns |
 * | prompt_completion | bare                 | a completion follows its prompt, as TRL joins them           |
 * | classification    | bare                 | the prompt already asks for a label word (format-mapping.ts) |
 * | qa                | question-answer      | "Question: ... Answer: ..." is how GSM8K-style sets are read |
 * | text, tokens      | bare                 | no turns, so the template is not used                        |
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { isPlainTemplateName, PLAIN_TEMPLATE_NAMES, type PlainTemplateName, type TemplateChoice } from '../../data/tokenize/index.ts';
import type { RecipeTask, TaskFormat } from '../recipe.ts';
import { describeTask, PrepareError } from './errors.ts';
import { FORMATS_WITH_PROMPT_TEMPLATE } from './format-mapping.ts';

export const PLAIN_TEMPLATE_BY_FORMAT: Readonly<Record<TaskFormat, PlainTemplateName>> = {
  instruction: 'instruction-response',
  messages: 'user-assistant',
  prompt_completion: 'bare',
  classification: 'bare',
  qa: 'question-answer',
  text: 'bare',
  tokens: 'bare',
};

export interface TemplatePlan {
  /** How conversations are rendered to text. */
  readonly rendering: TemplateChoice;
  /** The user turn's template, when the recipe gives one with {placeholders}. */
  readonly promptTemplate?: string;
}

export function planTemplate(task: RecipeTask, tokenizer: Pick<TextTokenizer, 'hasChatTemplate'>): TemplatePlan {
  const fallback: TemplateChoice = tokenizer.hasChatTemplate ? { kind: 'chat' } : { kind: 'plain', name: PLAIN_TEMPLATE_BY_FORMAT[task.format] };
  const template = task.template;
  if (template === undefined) return { rendering: fallback };
  if (template === 'chat') {
    if (!tokenizer.hasChatTemplate) {
      throw new PrepareError(
        'PREPARE_BAD_TEMPLATE',
        `${describeTask(task.name)}: template "chat" needs a model with a chat template, and this model has none; choose a plain template (${PLAIN_TEMPLATE_NAMES.join(', ')}) or leave "template" out.`,
        { task: task.name, template },
      );
    }
    return { rendering: { kind: 'chat' } };
  }
  if (isPlainTemplateName(template)) return { rendering: { kind: 'plain', name: template } };
  if (/\{[^{}]+\}/.test(template)) {
    if (!FORMATS_WITH_PROMPT_TEMPLATE.includes(task.format)) {
      throw new PrepareError(
        'PREPARE_BAD_TEMPLATE',
        `${describeTask(task.name)}: a template with {placeholders} builds the question of a classification or qa task; a ${task.format} task takes "chat" or a plain template (${PLAIN_TEMPLATE_NAMES.join(', ')}).`,
        { task: task.name, template },
      );
    }
    return { rendering: fallback, promptTemplate: template };
  }
  throw new PrepareError(
    'PREPARE_BAD_TEMPLATE',
    `${describeTask(task.name)}: template ${JSON.stringify(template)} is not "chat", a plain template (${PLAIN_TEMPLATE_NAMES.join(', ')}), or a template with {placeholders}.`,
    { task: task.name, template },
  );
}
