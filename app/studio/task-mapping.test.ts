import { describe, expect, it } from 'vitest';
import { DEFAULT_RECIPE } from './presets.ts';
import { parseRecipe } from '../train/recipe.ts';
import {
  buildRecipeTask,
  draftFromTask,
  fileSource,
  formatLabelWords,
  formatParts,
  isPositional,
  metricsFor,
  newDraft,
  parseLabelWords,
  replaceTask,
  settingsOfSource,
  suggestLabels,
  suggestTaskMapping,
  taskNameFromFile,
  taskProblems,
  withFormat,
} from './task-mapping.ts';
import { DEFAULT_IMPORT_SETTINGS, importOptions, type ImportSettings } from '../data/import/import-settings.ts';
import type { PreviewRow } from '../data/import/label-columns.ts';

const rows = (values: Record<string, unknown>[]): PreviewRow[] => values.map((row, index) => ({ row: index + 1, values: row }));

const FPB_ROWS = rows([
  { column_1: 'According to Gran , the company has no plans to move all production to Russia .', column_2: 'neutral' },
  { column_1: 'Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007 .', column_2: 'positive' },
  { column_1: 'Sales in Finland decreased by 2.5 % in January .', column_2: 'negative' },
  { column_1: 'The company expects its net sales to increase in 2008 .', column_2: 'positive' },
]);

const TWEET_ROWS = rows([
  { text: '$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT', label: '0' },
  { text: '$GM - GM loses a bull https://t.co/tdUfG5HbXy', label: '0' },
]);

describe('suggestTaskMapping', () => {
  it('maps the tweet CSV (text,label) as classification, with the code labels left for words', () => {
    const suggestion = suggestTaskMapping(['text', 'label'], TWEET_ROWS);
    expect(suggestion).toEqual({ format: 'classification', parts: { text: 'text', label: 'label' }, labelWords: '0 = ' });
  });

  it('lists every label of the file in the label words when the importer counted them, not only those of the first rows', () => {
    const suggestion = suggestTaskMapping(['text', 'label'], TWEET_ROWS, { label: ['2', '0', '1'] });
    expect(suggestion.labelWords).toBe('0 = \n1 = \n2 = ');
  });

  it('maps Financial PhraseBank without a header by its values: the long column is the text, the few words the label', () => {
    const suggestion = suggestTaskMapping(['column_1', 'column_2'], FPB_ROWS);
    expect(suggestion.format).toBe('classification');
    expect(suggestion.parts).toEqual({ text: 'column_1', label: 'column_2' });
    expect(suggestion.labelWords).toBe('negative = negative\nneutral = neutral\npositive = positive');
  });

  it('recognises the conventional columns of each format', () => {
    expect(suggestTaskMapping(['question', 'answer'], []).format).toBe('qa');
    expect(suggestTaskMapping(['instruction', 'input', 'output'], []).parts).toEqual({ instruction: 'instruction', input: 'input', output: 'output' });
    expect(suggestTaskMapping(['conversations'], []).parts).toEqual({ messages: 'conversations' });
    expect(suggestTaskMapping(['prompt', 'completion'], []).format).toBe('prompt_completion');
    expect(suggestTaskMapping(['input_ids', 'labels'], []).parts).toEqual({ input_ids: 'input_ids', labels: 'labels' });
    expect(suggestTaskMapping(['Sentence', 'Sentiment'], []).parts).toEqual({ text: 'Sentence', label: 'Sentiment' });
  });

  it('takes a plain text file (one "text" column) as text, and a column of unique long values as text', () => {
    expect(suggestTaskMapping(['text'], rows([{ text: 'a line' }]))).toEqual({ format: 'text', parts: { text: 'text' }, labelWords: '' });
    const free = rows([
      { a: 'a long paragraph about markets', b: 'another one, unlike the first' },
      { a: 'more text here of some length', b: 'and something else again here' },
      { a: 'yet another sentence to read', b: 'all different values in b' },
      { a: 'the fourth sentence in the file', b: 'the fourth value of b is new' },
    ]);
    expect(suggestTaskMapping(['a', 'b'], free).format).toBe('text');
  });
});

describe('label words', () => {
  it('lists distinct labels in natural order; words map to themselves, codes wait for a word', () => {
    expect(suggestLabels(rows([{ l: '10' }, { l: '2' }, { l: 2 }, { l: null }]), 'l')).toEqual({ '2': '', '10': '' });
    expect(suggestLabels(FPB_ROWS, 'column_2')).toEqual({ negative: 'negative', neutral: 'neutral', positive: 'positive' });
  });

  it('reads "label = word" lines and names the line of each problem', () => {
    expect(parseLabelWords('0 = Bearish\n1=Bullish\n\n2 = Neutral ')).toEqual({ labels: { '0': 'Bearish', '1': 'Bullish', '2': 'Neutral' }, problems: [] });
    expect(parseLabelWords('  \n')).toEqual({ problems: [] });
    expect(parseLabelWords('0 Bearish\n1 =\n2 = a\n2 = b').problems).toEqual([
      'Line 1: write the label, "=", and its word, e.g. "0 = Bearish".',
      'Line 2: label "1" needs a word after "=" (or remove the line).',
      'Line 4: label "2" is given twice.',
    ]);
    expect(parseLabelWords(formatLabelWords({ a: 'x = y' })).labels).toEqual({ a: 'x = y' });
  });
});

describe('buildRecipeTask', () => {
  const fpbSource = { file: 'Sentences_50Agree.txt', delimiter: '@', header: false };

  it('writes a headerless file’s columns as positions, with the verbalizer, and the recipe accepts it', () => {
    const draft = newDraft('phrase_sentiment', suggestTaskMapping(['column_1', 'column_2'], FPB_ROWS));
    const { task, problems } = buildRecipeTask(draft, fpbSource, ['column_1', 'column_2']);
    expect(problems).toEqual([]);
    expect(task).toEqual({
      name: 'phrase_sentiment',
      source: fpbSource,
      format: 'classification',
      columns: { text: 0, label: 1 },
      labels: { negative: 'negative', neutral: 'neutral', positive: 'positive' },
      metric: 'accuracy',
      role: 'task',
      validation_fraction: 0.1,
    });
    expect(() => parseRecipe({ ...DEFAULT_RECIPE, tasks: [task] })).not.toThrow();
    expect(draftFromTask(task!)).toEqual(draft);
  });

  it('says what is missing: a label without a word, a bad fraction, a column the file lacks', () => {
    const draft = { ...newDraft(' ', suggestTaskMapping(['text', 'label'], TWEET_ROWS)), validationFraction: '0.7', maxExamples: '2.5' };
    draft.parts = { ...draft.parts, text: 'tweet' };
    expect(buildRecipeTask(draft, { file: 'sent_train.csv' }, ['text', 'label']).problems).toEqual([
      'Task name: give the task a name.',
      'Text column: the file has no column "tweet".',
      'Label words: Line 1: label "0" needs a word after "=" (or remove the line).',
      'Validation fraction: a number from 0 to 0.5 (0.1 holds out a tenth of the rows).',
      'Max examples: a whole number of at least 1, or empty for all.',
    ]);
  });

  it('writes a Hub task’s typed-in columns and settings as names, and keeps the edited task’s template', () => {
    const draft = { ...newDraft('math', { format: 'qa', parts: { question: 'question', answer: 'answer', answer_marker: '####' }, labelWords: '' }), role: 'regularizer' as const, maxExamples: '2000' };
    const source = { hub: 'openai/gsm8k', config: 'main', split: 'train' };
    const { task } = buildRecipeTask(draft, source, [], { ...draft, name: 'math', source, format: 'qa', role: 'task', validation_fraction: 0.1, template: '{question}' });
    expect(task).toEqual({
      name: 'math',
      source,
      format: 'qa',
      columns: { question: 'question', answer: 'answer', answer_marker: '####' },
      template: '{question}',
      metric: 'numeric_match',
      role: 'regularizer',
      validation_fraction: 0.1,
      max_examples: 2000,
    });
  });

  it('writes only the parts of the chosen format: switching format keeps the others for switching back', () => {
    const classification = newDraft('t', suggestTaskMapping(['text', 'label'], TWEET_ROWS));
    const text = withFormat(classification, 'text', ['text', 'label'], TWEET_ROWS);
    expect(text.metric).toBe('loss');
    expect(buildRecipeTask(text, { file: 'f.csv' }, ['text', 'label']).task).toMatchObject({ format: 'text', columns: { text: 'text' } });
    expect(buildRecipeTask(text, { file: 'f.csv' }, ['text', 'label']).task).not.toHaveProperty('labels');
    expect(withFormat(text, 'classification', ['text', 'label'], TWEET_ROWS).parts).toEqual({ text: 'text', label: 'label' });
  });
});

describe('how the file is read, in the task', () => {
  const draft = newDraft('notes', { format: 'text', parts: { text: 'text' }, labelWords: '' });
  const build = (settings: Partial<ImportSettings>) => buildRecipeTask(draft, fileSource('notes.txt', { ...DEFAULT_IMPORT_SETTINGS, ...settings }), ['text']).task!;

  it('writes the file format and splitting only when one was chosen, and the recipe accepts them', () => {
    expect(build({}).source).toEqual({ file: 'notes.txt' });
    expect(build({ splitting: 'paragraphs' }).source).toEqual({ file: 'notes.txt' });
    expect(build({ format: 'text' }).source).toEqual({ file: 'notes.txt', file_format: 'text' });
    expect(build({ format: 'text', splitting: 'paragraphs' }).source).toEqual({ file: 'notes.txt', file_format: 'text', splitting: 'paragraphs' });
    expect(build({ format: 'jsonl', splitting: 'paragraphs' }).source).toEqual({ file: 'notes.txt', file_format: 'jsonl' });
    expect(build({ format: 'csv', delimiter: '@', header: 'no' }).source).toEqual({ file: 'notes.txt', delimiter: '@', header: false, file_format: 'csv' });
    const tasks = [build({ format: 'text', splitting: 'paragraphs' }), { ...build({ format: 'jsonl' }), name: 'other' }];
    expect(parseRecipe({ ...DEFAULT_RECIPE, tasks }).tasks.map((task) => task.source)).toEqual(tasks.map((task) => task.source));
  });

  it('gives back the settings a task was read with, so editing reads the file the same way and writes the same source', () => {
    for (const settings of [{}, { format: 'text', splitting: 'paragraphs' }, { format: 'json' }, { delimiter: ';', header: 'yes' }] as Partial<ImportSettings>[]) {
      const { source } = build(settings);
      expect(settingsOfSource(source)).toEqual({ ...DEFAULT_IMPORT_SETTINGS, ...settings });
      expect(fileSource('notes.txt', settingsOfSource(source))).toEqual(source);
    }
    expect(importOptions(settingsOfSource({ file: 'notes.txt', file_format: 'text', splitting: 'paragraphs' }))).toEqual({ format: 'text', splitting: 'paragraphs' });
    expect(settingsOfSource({ hub: 'owner/data', config: 'default', split: 'train' })).toEqual(DEFAULT_IMPORT_SETTINGS);
  });

  it('keeps the validation file of the task being edited, which the form does not show', () => {
    const editing = { ...build({ format: 'jsonl' }), source: { file: 'notes.txt', validation_file: 'notes-val.txt', file_format: 'jsonl' as const } };
    expect(buildRecipeTask(draft, fileSource('notes.txt', settingsOfSource(editing.source)), ['text'], editing).task!.source).toEqual(editing.source);
    expect(buildRecipeTask(draft, { file: 'other.txt' }, ['text'], editing).task!.source).toEqual({ file: 'other.txt' });
  });
});

describe('formats and metrics', () => {
  it('offers each format’s parts from the recipe definition, columns before settings', () => {
    expect(formatParts('qa').map((part) => `${part.key}:${part.kind}`)).toEqual(['question:column', 'answer:column', 'answer_marker:setting', 'answer_pattern:setting']);
    expect(formatParts('messages').map((part) => part.label)).toEqual(['Messages column', 'Name of the system role', 'Name of the user role', 'Name of the assistant role']);
  });

  it('puts the sensible default metric first and offers only metrics that can score the format', () => {
    expect(metricsFor('classification')).toEqual(['accuracy', 'loss']);
    expect(metricsFor('qa')[0]).toBe('numeric_match');
    expect(metricsFor('instruction')[0]).toBe('rouge_l');
    expect(metricsFor('text')).toEqual(['loss']);
  });
});

describe('names and problems', () => {
  it('names a task after its file', () => {
    expect(taskNameFromFile('Sentences_50Agree.txt')).toBe('sentences_50agree');
    expect(taskNameFromFile('C:\\data\\sent train.csv')).toBe('sent_train');
    expect(taskNameFromFile('.csv')).toBe('task');
  });

  it('knows the importer’s names for a file without a header', () => {
    expect(isPositional(['column_1', 'column_2'])).toBe(true);
    expect(isPositional(['column_2', 'column_1'])).toBe(false);
    expect(isPositional([])).toBe(false);
  });

  it('picks the recipe problems of one task', () => {
    const problems = [
      { path: 'tasks[1].metric', message: 'm' },
      { path: 'tasks[1]', message: 'whole' },
      { path: 'tasks[10].name', message: 'other' },
      { path: 'mixture.weights', message: 'no' },
    ];
    expect(taskProblems(problems, 1)).toEqual([
      { path: 'metric', message: 'm' },
      { path: '', message: 'whole' },
    ]);
  });
});

describe('replaceTask', () => {
  it('replaces a task in its place, and a renamed task keeps its mixture weight', () => {
    const task = (name: string) => ({ name, source: { file: `${name}.csv` }, format: 'text' as const, role: 'task' as const, validation_fraction: 0.1 });
    const recipe = { ...DEFAULT_RECIPE, tasks: [task('a'), task('b')], mixture: { ...DEFAULT_RECIPE.mixture, strategy: 'manual' as const, weights: { a: 2, b: 1 } } };
    const renamed = replaceTask(recipe, 'a', task('c'));
    expect(renamed.tasks.map((t) => t.name)).toEqual(['c', 'b']);
    expect(renamed.mixture.weights).toEqual({ c: 2, b: 1 });
    expect(replaceTask({ ...DEFAULT_RECIPE, tasks: [task('a')] }, 'a', task('a')).mixture).toEqual(DEFAULT_RECIPE.mixture);
  });
});
