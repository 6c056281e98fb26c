/**
 * Classification rows: a text and a label. The prompt comes from a template (`{text}` is the mapped
 * text, `{labels}` the label words joined by ", ", other names are columns); the trained answer is the
 * label's word from the verbalizer (Twitter's 0/1/2 become "bearish"/"bullish"/"neutral"), or the label
 * itself. With a label set given (the verbalizer's keys, or `labels`), a row whose label is outside it
 * is reported; without one, the set is gathered from the rows.
 */
import type { ConversationExample, Turn } from '../example.ts';
import { DataError } from '../errors.ts';
import type { RawRow } from '../import/types.ts';
import { at, checkColumns, columnOrDefault, readText, sourceOf, type MapContext } from './fields.ts';
import { createPromptBuilder } from './prompt.ts';
import type { FormatMapper, LabelSet } from './types.ts';

export interface ClassificationMapping {
  format: 'classification';
  /** Default "text", or "sentence" where the file has that instead. */
  text?: string;
  /** Default "label". */
  label?: string;
  /** The label set, as written in the file; the verbalizer's keys when omitted. */
  labels?: readonly string[];
  /** Label to the word the model is taught to answer ("0" -> "bearish"). */
  verbalizer?: Readonly<Record<string, string>>;
  /** The user turn; default "{text}". */
  template?: string;
  systemPrompt?: string;
}

export const TEXT_PLACEHOLDER = 'text';
export const LABELS_PLACEHOLDER = 'labels';

export function createClassificationMapper(mapping: ClassificationMapping, context: MapContext): FormatMapper | undefined {
  const textColumn = columnOrDefault(mapping.text, 'text', context, ['sentence']);
  const labelColumn = columnOrDefault(mapping.label, 'label', context, ['labels', 'sentiment']);
  const given = givenLabelSet(mapping);
  const prompt = createPromptBuilder(mapping.template ?? `{${TEXT_PLACEHOLDER}}`, [TEXT_PLACEHOLDER, LABELS_PLACEHOLDER], labelColumn, 'classification template');
  if (prompt.template.fields.includes(LABELS_PLACEHOLDER) && !given) {
    throw new DataError('DATA_BAD_MAPPING', 'The template uses {labels}, so the label set must be given (labels or a verbalizer), not gathered row by row.', {});
  }
  if (!checkColumns([textColumn, labelColumn, ...prompt.columns], context, 'classification')) return undefined;

  const labels = given ? [...given] : [];
  const counts = new Map<string, number>(labels.map((label) => [label, 0]));
  const wordOf = (label: string): string => mapping.verbalizer?.[label] ?? label;
  const labelWords = labels.map(wordOf).join(', ');
  const { log } = context;

  return {
    map(row: RawRow): ConversationExample | undefined {
      const text = readText(row, textColumn, log);
      const label = readText(row, labelColumn, log)?.trim();
      if (text === undefined || label === undefined) return undefined;
      if (given && !given.has(label)) {
        log.add('LABEL_NOT_IN_SET', at(row, labelColumn), `label ${JSON.stringify(label)} is not one of ${[...given].map((l) => JSON.stringify(l)).join(', ')}`);
        return undefined;
      }
      const content = prompt.build(row, new Map([[TEXT_PLACEHOLDER, text], [LABELS_PLACEHOLDER, labelWords]]), log);
      if (content === undefined) return undefined;
      counts.set(label, (counts.get(label) ?? 0) + 1);
      const word = wordOf(label);
      const turns: Turn[] = [];
      if (mapping.systemPrompt) turns.push({ role: 'system', content: mapping.systemPrompt, train: false });
      turns.push({ role: 'user', content, train: false }, { role: 'assistant', content: word, train: true });
      return { kind: 'conversation', source: sourceOf(row), turns, expected: { kind: 'label', label, word }, typed: text };
    },
    labels(): LabelSet {
      const ordered = given ? labels : [...counts.keys()].sort(compareLabels);
      return { labels: ordered, words: ordered.map(wordOf), counts: ordered.map((label) => counts.get(label) ?? 0), inferred: !given };
    },
  };
}

function givenLabelSet(mapping: ClassificationMapping): ReadonlySet<string> | undefined {
  const verbalized = mapping.verbalizer ? Object.keys(mapping.verbalizer) : undefined;
  if (mapping.labels && verbalized) {
    const unworded = mapping.labels.filter((label) => !verbalized.includes(label));
    if (unworded.length > 0) {
      throw new DataError('DATA_BAD_MAPPING', `The verbalizer has no word for label(s) ${unworded.map((l) => JSON.stringify(l)).join(', ')}.`, { unworded });
    }
  }
  const list = mapping.labels ?? verbalized;
  if (!list) return undefined;
  if (list.length < 2) throw new DataError('DATA_BAD_MAPPING', `A classification needs at least two labels, got ${list.length}.`, {});
  const words = list.map((label) => mapping.verbalizer?.[label] ?? label);
  if (new Set(words).size !== words.length) {
    throw new DataError('DATA_BAD_MAPPING', `Two labels share one word (${words.join(', ')}), so answers could not be told apart.`, { words });
  }
  return new Set(list.map((label) => label.trim()));
}

/** Numeric labels in numeric order ("2" before "10"), others alphabetically. */
function compareLabels(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}
