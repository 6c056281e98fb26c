/**
 * Chat rows: a list of messages, in OpenAI's shape `{role, content}` or ShareGPT's `{from, value}`.
 * Role names are mapped to system/user/assistant (ShareGPT's "human" and "gpt" by default, others by
 * the mapping); a role nobody mapped is reported, never guessed. Assistant turns are trained (all of
 * them, or only the last); empty system messages are left out, since they say nothing.
 */
import type { ConversationExample, Role, Turn } from '../example.ts';
import type { RawRow } from '../import/types.ts';
import { describeJsonType } from '../import/jsonl.ts';
import type { ProblemLog } from '../validate.ts';
import { at, checkColumns, columnOrDefault, readStructuredField, sourceOf, type MapContext } from './fields.ts';
import type { FormatMapper } from './types.ts';

export type MessageStyle = 'auto' | 'openai' | 'sharegpt';

export interface ChatMapping {
  format: 'chat';
  /** Default "messages", or "conversations" (ShareGPT's name) where the file has that instead. */
  messages?: string;
  /** Default 'auto': each message by its keys. */
  style?: MessageStyle;
  /** Role names (case-insensitive) to roles, over the defaults system/user/assistant/human/gpt. */
  roles?: Readonly<Record<string, Role>>;
  /** Which assistant turns carry loss: every one (default) or only the last. */
  train?: 'all-assistant' | 'last-assistant';
  /** A system prompt for conversations that have none. */
  systemPrompt?: string;
}

export const DEFAULT_ROLE_NAMES: Readonly<Record<string, Role>> = {
  system: 'system',
  user: 'user',
  assistant: 'assistant',
  human: 'user',
  gpt: 'assistant',
};

export interface MessageReading {
  style: MessageStyle;
  roles: ReadonlyMap<string, Role>;
}

export function roleTable(extra: Readonly<Record<string, Role>> | undefined): ReadonlyMap<string, Role> {
  const table = new Map<string, Role>();
  for (const [name, role] of Object.entries({ ...DEFAULT_ROLE_NAMES, ...extra })) table.set(name.trim().toLowerCase(), role);
  return table;
}

/**
 * The messages of one field as turns (none trained yet), or undefined after reporting what is wrong.
 * A JSON string (a CSV cell holding the list) is parsed first.
 */
export function readMessages(row: RawRow, column: string, reading: MessageReading, log: ProblemLog): Turn[] | undefined {
  const field = readStructuredField(row, column, log, 'a list of messages');
  if (!field) return undefined;
  const { value } = field;
  if (!Array.isArray(value)) {
    log.add('WRONG_TYPE', at(row, column), `expected a list of messages, found ${describeJsonType(value)}`);
    return undefined;
  }
  const turns: Turn[] = [];
  const unknownRoles = new Set<string>();
  let ok = true;
  value.forEach((message: unknown, index) => {
    const where = `message ${index + 1}`;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      log.add('WRONG_TYPE', at(row, column), `${where} is ${describeJsonType(message)}, not an object`);
      ok = false;
      return;
    }
    const fields = message as Record<string, unknown>;
    const style = reading.style !== 'auto' ? reading.style : 'role' in fields ? 'openai' : 'from' in fields ? 'sharegpt' : undefined;
    if (style === undefined) {
      log.add('WRONG_TYPE', at(row, column), `${where} has neither role/content (OpenAI) nor from/value (ShareGPT) keys`);
      ok = false;
      return;
    }
    const [roleKey, contentKey] = style === 'openai' ? ['role', 'content'] : ['from', 'value'];
    const name = fields[roleKey];
    if (typeof name !== 'string') {
      log.add('WRONG_TYPE', at(row, column), `${where} has no "${roleKey}" text`);
      ok = false;
      return;
    }
    const role = reading.roles.get(name.trim().toLowerCase());
    if (role === undefined) {
      unknownRoles.add(name);
      ok = false;
      return;
    }
    const content = messageContent(fields[contentKey]);
    if (content === undefined) {
      log.add('WRONG_TYPE', at(row, column), `${where} (${name}) has ${describeJsonType(fields[contentKey])} as "${contentKey}", not text`);
      ok = false;
      return;
    }
    if (content.trim() === '') {
      if (role === 'system') return;
      log.add(role === 'assistant' ? 'EMPTY_ANSWER' : 'EMPTY_FIELD', at(row, column), `${where} (${name}) is empty`);
      ok = false;
      return;
    }
    turns.push({ role, content, train: false });
  });
  if (unknownRoles.size > 0) {
    const names = [...unknownRoles].map((name) => JSON.stringify(name)).join(', ');
    log.add('UNKNOWN_ROLE', at(row, column), `role ${names} is not mapped to system, user or assistant`);
  }
  return ok ? turns : undefined;
}

/** Text content; OpenAI's list of parts is accepted when every part is text. */
function messageContent(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) return undefined;
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') texts.push(part);
    else if (typeof part === 'object' && part !== null && (part as { type?: unknown }).type === 'text' && typeof (part as { text?: unknown }).text === 'string') {
      texts.push((part as { text: string }).text);
    } else return undefined;
  }
  return texts.join('');
}

export function createChatMapper(mapping: ChatMapping, context: MapContext): FormatMapper | undefined {
  const column = columnOrDefault(mapping.messages, 'messages', context, ['conversations']);
  if (!checkColumns([column], context, 'chat')) return undefined;
  const reading: MessageReading = { style: mapping.style ?? 'auto', roles: roleTable(mapping.roles) };
  const lastOnly = mapping.train === 'last-assistant';
  const { log } = context;
  return {
    map(row: RawRow): ConversationExample | undefined {
      const read = readMessages(row, column, reading, log);
      if (!read) return undefined;
      let lastAssistant = -1;
      read.forEach((turn, index) => {
        if (turn.role === 'assistant') lastAssistant = index;
      });
      if (lastAssistant === -1) {
        log.add('NO_ASSISTANT_TURN', at(row, column), 'the conversation has no assistant message to learn from');
        return undefined;
      }
      const turns = read.map((turn, index) => ({ ...turn, train: turn.role === 'assistant' && (!lastOnly || index === lastAssistant) }));
      if (mapping.systemPrompt && turns[0]?.role !== 'system') turns.unshift({ role: 'system', content: mapping.systemPrompt, train: false });
      return { kind: 'conversation', source: sourceOf(row), turns };
    },
  };
}
