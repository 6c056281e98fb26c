/**
 * Task metrics on generated text. Normalisation follows the common QA convention (SQuAD's evaluation
 * script): lower case, no punctuation, no articles, single spaces.
 */

export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** 1 when the normalised generation equals the normalised expected answer. */
export function exactMatch(generated: string, expected: string): number {
  return normalizeAnswer(generated) === normalizeAnswer(expected) ? 1 : 0;
}

/**
 * 1 when the generation's final answer is the expected number. The final answer is the number after
 * a "####" marker when there is one (GSM8K's format), else the last number in the text; thousands
 * separators are ignored and numbers compare with a relative tolerance of 1e-6.
 */
export function numericMatch(generated: string, expected: string): number {
  const got = finalNumber(generated);
  const want = finalNumber(expected);
  if (got === undefined || want === undefined) return 0;
  return Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)) ? 1 : 0;
}

export function finalNumber(text: string): number | undefined {
  const marked = text.split('####');
  const tail = marked.length > 1 ? marked.at(-1)! : text;
  const numbers = tail.replace(/(\d),(?=\d{3}\b)/g, '$1').match(/-?\d+(?:\.\d+)?/g);
  if (!numbers) return undefined;
  return Number(marked.length > 1 ? numbers[0] : numbers.at(-1));
}

/** ROUGE-L F1 (Lin 2004) over normalised words: the longest common subsequence against both lengths. */
export function rougeL(generated: string, expected: string): number {
  const a = normalizeAnswer(generated).split(' ').filter(Boolean);
  const b = normalizeAnswer(expected).split(' ').filter(Boolean);
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 1 : 0;
  let previous = new Array<number>(b.length + 1).fill(0);
  for (const word of a) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) current[j] = word === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    previous = current;
  }
  const lcs = previous[b.length]!;
  if (lcs === 0) return 0;
  const precision = lcs / a.length;
  const recall = lcs / b.length;
  return (2 * precision * recall) / (precision + recall);
}
