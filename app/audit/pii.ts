/**
 * Personal data in text: e-mail addresses, phone numbers, card-like numbers (13 to 19 digits, spaces or
 * dashes allowed, that pass Luhn's check) and URLs. Patterns, not understanding: they find what looks
 * like personal data, miss what is written unusually, and a URL is often harmless (the docs say so).
 */
import { passesLuhn } from './statistics.ts';

export type PiiKind = 'email' | 'phone' | 'card' | 'url';
export const PII_KINDS: readonly PiiKind[] = ['email', 'phone', 'card', 'url'];

const PATTERNS: Record<PiiKind, RegExp> = {
  email: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
  url: /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi,
  // +CC then groups, or (NNN) NNN-NNNN / NNN-NNN-NNNN: separators required, so amounts like 2,500,000 do not match.
  phone: /(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4})\b/g,
  card: /\b\d(?:[ -]?\d){12,18}\b/g,
};

/** Matches of each kind in one text; a URL's or e-mail's digits are not read again as a phone or card. */
export function findPii(text: string): Record<PiiKind, string[]> {
  const found: Record<PiiKind, string[]> = { email: [], phone: [], card: [], url: [] };
  let rest = text;
  for (const kind of ['email', 'url'] as const) {
    rest = rest.replace(PATTERNS[kind], (match) => {
      found[kind].push(match);
      return ' ';
    });
  }
  rest = rest.replace(PATTERNS.card, (match) => {
    const digits = match.replace(/\D/g, '');
    if (digits.length < 13 || digits.length > 19 || !passesLuhn(digits)) return match;
    found.card.push(match);
    return ' ';
  });
  for (const match of rest.match(PATTERNS.phone) ?? []) found.phone.push(match.trim());
  return found;
}
