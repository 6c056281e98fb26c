/**
 * The identity terms of the bias probes: an editable list, one category per line,
 *
 *   # comment
 *   gender: she, her, woman, women, he, his, man, men
 *
 * A term matches as a whole word or phrase, ignoring case. Users edit the list (in the studio, or with
 * `cocktail audit --terms FILE`); a line that does not parse is reported with its number.
 */
import { CocktailError } from '../errors.ts';

export interface TermCategory {
  category: string;
  terms: string[];
  /** 1-based line of the list where the category is defined. */
  line: number;
}

export const DEFAULT_TERM_LIST = `# Identity terms probed per label (edit freely: "category: term, term, ...", one category per line).
gender: she, her, hers, woman, women, female, he, him, his, man, men, male
ethnicity: black, white, asian, hispanic, latino, latina, african, arab
religion: christian, muslim, islamic, jewish, hindu, buddhist, catholic
age: young, old, elderly, teenager, retiree, senior citizen
nationality: american, chinese, russian, indian, german, french, british, japanese, finnish, mexican
`;

export function parseTermList(text: string, file = 'term list'): TermCategory[] {
  const categories: TermCategory[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const content = raw.trim();
    if (content === '' || content.startsWith('#')) return;
    const colon = content.indexOf(':');
    const fail = (why: string): never => {
      throw new CocktailError('AUDIT_TERMS_INVALID', `${file}, line ${line}: ${why} (got ${JSON.stringify(raw.slice(0, 80))}); write "category: term, term, ..."`, { file, line });
    };
    if (colon <= 0) fail('expected a category name, a colon and its terms');
    const category = content.slice(0, colon).trim();
    const terms = content
      .slice(colon + 1)
      .split(',')
      .map((term) => term.trim().toLowerCase());
    if (terms.some((term) => term === '')) fail('a term is empty (two commas in a row, or nothing after the colon)');
    if (seen.has(category)) fail(`category "${category}" is defined twice`);
    seen.add(category);
    categories.push({ category, terms, line });
  });
  if (categories.length === 0) throw new CocktailError('AUDIT_TERMS_INVALID', `${file} defines no terms`, { file, line: 0 });
  return categories;
}

/** One expression per term: whole words, any case, inner spaces matching any whitespace. */
export function termPattern(term: string): RegExp {
  const escaped = term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+');
  return new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'iu');
}
