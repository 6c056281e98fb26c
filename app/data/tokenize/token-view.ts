/**
 * What the token view shows for one example: every token, the text it stands for, and whether it
 * carries loss. `trained` is read from the very labels the trainer receives (labels[t] !== -100), so
 * the view cannot disagree with training.
 */
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { IGNORE_INDEX, type Role } from '../example.ts';
import { displayToken, tokenDisplayStyle } from './token-display.ts';
import { NO_TURN, type TokenizedExample } from './types.ts';

export interface TokenViewEntry {
  readonly id: number;
  /** The text the token stands for ("▁the" shows as " the", "<0x0A>" as "\n"). */
  readonly token: string;
  /** The vocabulary's own spelling. */
  readonly piece: string;
  readonly trained: boolean;
  /** The label at this position: the id itself when trained, -100 when not. */
  readonly label: number;
  readonly special: boolean;
  /** Index of the turn the token came from, or NO_TURN (-1). */
  readonly turn: number;
  readonly role: Role | null;
}

export function tokenView(example: TokenizedExample, tokenizer: Pick<TextTokenizer, 'encode' | 'idToToken' | 'isSpecial'>): TokenViewEntry[] {
  const style = tokenDisplayStyle(tokenizer);
  return Array.from(example.inputIds, (id, position) => {
    const piece = tokenizer.idToToken(id) ?? `<unknown id ${id}>`;
    const special = tokenizer.isSpecial(id);
    const label = example.labels[position]!;
    const turn = example.turnIndex[position]!;
    return {
      id,
      token: special ? piece : displayToken(piece, style),
      piece,
      trained: label !== IGNORE_INDEX,
      label,
      special,
      turn,
      role: turn === NO_TURN ? null : (example.roles[turn] ?? null),
    };
  });
}
