import { CocktailError } from '../errors.ts';

/** Parses `--flag` switches; anything else is an error that names the argument and what is allowed. */
export function parseFlags<const F extends string>(command: string, args: string[], allowed: readonly F[]): Record<F, boolean> {
  const flags = Object.fromEntries(allowed.map((flag) => [flag, false])) as Record<F, boolean>;
  for (const arg of args) {
    const name = arg.replace(/^--/, '') as F;
    if (!arg.startsWith('--') || !allowed.includes(name)) {
      throw new CocktailError('BAD_ARGUMENT', `unknown argument "${arg}"; ${command} takes ${allowed.map((f) => `--${f}`).join(', ') || 'no arguments'}`);
    }
    flags[name] = true;
  }
  return flags;
}

export type OptionKind = 'string' | 'integer' | 'number' | 'flag';
export type ParsedOptions<S extends Record<string, OptionKind>> = { [K in keyof S]?: S[K] extends 'flag' ? boolean : S[K] extends 'string' ? string : number };

/** Parses `--name value` options and `--flag` switches by a schema; names the option at fault. */
export function parseOptions<S extends Record<string, OptionKind>>(command: string, args: string[], schema: S, required: readonly (keyof S & string)[] = []): ParsedOptions<S> {
  const parsed: Record<string, string | number | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    const kind = name === undefined ? undefined : schema[name];
    if (name === undefined || kind === undefined) {
      throw new CocktailError('BAD_ARGUMENT', `unknown argument "${arg}"; ${command} takes ${Object.keys(schema).map((n) => `--${n}`).join(', ')}`);
    }
    if (kind === 'flag') {
      parsed[name] = true;
      continue;
    }
    const value = args[++i];
    if (value === undefined) throw new CocktailError('BAD_ARGUMENT', `--${name} needs a value`);
    if (kind === 'string') parsed[name] = value;
    else {
      const number = Number(value);
      if (!Number.isFinite(number) || (kind === 'integer' && !Number.isSafeInteger(number))) {
        throw new CocktailError('BAD_ARGUMENT', `--${name} must be ${kind === 'integer' ? 'an integer' : 'a number'}, got "${value}"`);
      }
      parsed[name] = number;
    }
  }
  for (const name of required) if (!(name in parsed)) throw new CocktailError('BAD_ARGUMENT', `${command} needs --${name}`);
  return parsed as ParsedOptions<S>;
}
