/**
 * Generated text shown so that whitespace cannot hide: a completion of eight newlines must not look
 * like an empty box beside "Done: 8 tokens". Line breaks and tabs get a mark, and so do spaces a
 * reader cannot see (at the end of a line, or all of a text that is only whitespace); the text
 * itself is kept, so copying it copies what the model wrote.
 */
export interface TextPiece {
  text: string;
  /** A visible stand-in for whitespace, shown before (a line break) or instead of the text. */
  mark?: string;
}

const MARKS: Readonly<Record<string, string>> = { '\n': '↵', '\t': '→', ' ': '·', '\r': '␍' };

export function visibleWhitespace(text: string): TextPiece[] {
  const blank = text.trim() === '';
  const pieces: TextPiece[] = [];
  // Split into runs: line breaks one by one, other whitespace runs, and everything else.
  for (const match of text.matchAll(/\r?\n|[^\S\r\n]+|\S+/g)) {
    const run = match[0];
    const end = match.index + run.length;
    if (run === '\n' || run === '\r\n') pieces.push({ text: run, mark: MARKS['\n'] });
    else if (/^\s+$/.test(run) && (blank || run.includes('\t') || end === text.length || text[end] === '\n' || text[end] === '\r')) {
      pieces.push({ text: run, mark: [...run].map((char) => MARKS[char] ?? '·').join('') });
    } else pieces.push({ text: run });
  }
  return pieces;
}

/** "8 line breaks", "3 spaces and 1 line break": what a text made only of whitespace holds, or undefined when it has more. */
export function describeBlank(text: string): string | undefined {
  if (text === '' || text.trim() !== '') return undefined;
  const count = (pattern: RegExp) => text.match(pattern)?.length ?? 0;
  const parts = [
    [count(/\n/g), 'line break'],
    [count(/ /g), 'space'],
    [count(/\t/g), 'tab'],
    [text.length - count(/[\n \t]/g), 'other whitespace character'],
  ] as const;
  const named = parts.filter(([n]) => n > 0).map(([n, word]) => `${n} ${word}${n === 1 ? '' : 's'}`);
  return named.length <= 1 ? named.join('') : `${named.slice(0, -1).join(', ')} and ${named.at(-1)!}`;
}
